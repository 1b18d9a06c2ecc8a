package controlplane

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shortify/shortify/controlplane/domainsync"
	"github.com/shortify/shortify/internal/domainmirror"
)

// startDomainMirror opens the custom-domain mirror in the link database
// (creating its table) and starts the leader's sync of the FSM's registry
// into it: the edges read the mirror, never the control plane.
func (s *service) startDomainMirror(ctx context.Context, log *slog.Logger) (err error) {
	if s.mirror, err = domainmirror.Open(ctx, s.cfg.Database, true); err != nil {
		return fmt.Errorf("shortify: open the custom domain mirror: %w", err)
	}
	s.domainSync, err = domainsync.New(s.lead, domainsync.Config{
		Registry: s.node,
		Store:    s.mirror,
		Logger:   log.With("component", "domainsync"),
	})
	if err != nil {
		return fmt.Errorf("shortify: custom domain mirror: %w", err)
	}
	s.domainSync.Start(context.Background())
	return nil
}

// closeDomainMirror stops the sync, then closes the mirror it writes.
func (s *service) closeDomainMirror() error {
	var err error
	if s.domainSync != nil {
		err = s.domainSync.Close()
	}
	if s.mirror != nil {
		s.mirror.Close()
	}
	return err
}
