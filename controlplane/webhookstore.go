package controlplane

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/controlplane/api"
	whstore "github.com/shortify/shortify/webhooks/store"
)

// openWebhooks opens the webhook endpoints and delivery logs in the link
// database (their own tables and migrations, webhooks/store) for the
// API's /api/v1/webhooks routes. The deliverer (shortify_webhooks) opens
// its own store on the same database.
func (s *service) openWebhooks(ctx context.Context) (err error) {
	s.hooks, err = whstore.Open(ctx, whstore.Config{DSN: s.cfg.Database})
	if err != nil {
		return fmt.Errorf("shortify: open the webhook store: %w", err)
	}
	return nil
}

// webhookDeps adds the webhook store to d.
func (s *service) webhookDeps(d *api.Deps) {
	if s.hooks != nil {
		d.Webhooks = s.hooks
	}
}
