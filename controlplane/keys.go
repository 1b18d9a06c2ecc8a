package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// nodeKeys is the API's key ring on the Raft node's replicated state.
type nodeKeys struct{ node *cluster.Node }

func recordOf(e fsm.KeyEntry) api.KeyRecord {
	rec := api.KeyRecord{
		ID:        e.ID,
		Name:      e.Name,
		Role:      apikey.Role(e.Role),
		CreatedAt: time.UnixMilli(e.CreatedMs).UTC(),
		Revoked:   e.Revoked(),
	}
	copy(rec.Hash[:], e.Hash)
	return rec
}

func entryOf(r api.KeyRecord) fsm.KeyEntry {
	return fsm.KeyEntry{ID: r.ID, Name: r.Name, Role: string(r.Role), Hash: r.Hash[:], CreatedMs: r.CreatedAt.UnixMilli()}
}

// LookupKey implements api.Keys.
func (k nodeKeys) LookupKey(id string) (api.KeyRecord, bool) {
	e, ok := k.node.APIKey(id)
	if !ok {
		return api.KeyRecord{}, false
	}
	return recordOf(e), true
}

// ListKeys implements api.Keys.
func (k nodeKeys) ListKeys() []api.KeyRecord {
	entries := k.node.APIKeys()
	out := make([]api.KeyRecord, 0, len(entries))
	for _, e := range entries {
		out = append(out, recordOf(e))
	}
	return out
}

// AddKey implements api.Keys.
func (k nodeKeys) AddKey(ctx context.Context, r api.KeyRecord) error {
	return k.node.AddAPIKey(ctx, entryOf(r), false)
}

// RevokeKey implements api.Keys.
func (k nodeKeys) RevokeKey(ctx context.Context, id string, at time.Time) (bool, error) {
	return k.node.RevokeAPIKey(ctx, id, at.UnixMilli())
}

// Keys returns the replicated key ring for the other handlers of this
// process (the stats API authenticates with it), or nil before Start and
// after Stop.
func (a *App) Keys() api.KeyLookup {
	h := a.handler()
	if h == nil {
		return nil
	}
	return h.KeyLookup()
}

// ensureAdminKey gives a cluster without keys its first admin key: the
// configured initial key (SHORTIFY_INITIAL_API_KEY in the Caddyfile), or a
// new one printed once on standard error. Several nodes may race here; the
// FSM stores only the first (AddKey with OnlyIfNone).
func ensureAdminKey(ctx context.Context, node *cluster.Node, initial string, log *slog.Logger) error {
	if len(node.APIKeys()) > 0 {
		return nil
	}
	var key apikey.Key
	if initial != "" {
		id, err := apikey.Parse(initial)
		if err != nil {
			return fmt.Errorf("shortify: initial_api_key: %w (make one with `shortify new-api-key`)", err)
		}
		key = apikey.Key{ID: id, Secret: initial, Hash: apikey.Hash(initial)}
	} else {
		var err error
		if key, err = apikey.New(); err != nil {
			return err
		}
	}
	rec := api.KeyRecord{ID: key.ID, Name: "initial admin", Role: apikey.Admin, Hash: key.Hash, CreatedAt: time.Now()}
	err := node.AddAPIKey(ctx, entryOf(rec), true)
	switch {
	case errors.Is(err, fsm.ErrKeyExists):
		return nil // another node was first
	case err != nil:
		return fmt.Errorf("shortify: store the initial admin key: %w", err)
	}
	if initial != "" {
		log.Info("stored the configured initial admin API key", "id", key.ID)
		return nil
	}
	// Shown once, never logged: logs are kept and shipped.
	fmt.Fprintf(os.Stderr, "\n"+
		"  Shortify created the first admin API key. It is shown only now; store it safely:\n\n"+
		"      %s\n\n"+
		"  Send it as the X-Api-Key header. Set SHORTIFY_INITIAL_API_KEY to choose it yourself.\n\n", key.Secret)
	log.Warn("created the first admin API key and printed it on standard error", "id", key.ID)
	return nil
}
