package api

import (
	"context"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
)

// LinkEvents publishes link events (package linkevents) for the edges,
// which evict changed codes from their caches, and the stats service. The
// control plane's Kafka producer implements it. Publish must return at
// once, whatever Kafka does: it runs on the request path.
type LinkEvents interface {
	Publish(e linkevents.Event)
}

// publishCreated announces a new link, so that edges drop a cached
// "unknown code" entry for its code. Like every Publish it never waits:
// a create never blocks or fails on Kafka.
func (h *Handler) publishCreated(ctx context.Context, l linkstore.Link) {
	if h.deps.Events != nil {
		publishContext(ctx, h.deps.Events, linkevents.NewCreated(l, h.cfg.Now())) // tracing.go
	}
}

// publishUpdated announces l as it is after an update (a disabled event
// when the update left it disabled).
func (h *Handler) publishUpdated(l linkstore.Link) {
	if h.deps.Events != nil {
		h.deps.Events.Publish(linkevents.NewUpdated(l, h.cfg.Now()))
	}
}

// publishDeleted announces the deletion of l (as the store's Delete
// returned it) through the API; purge asks the stats service to remove
// its statistics too.
func (h *Handler) publishDeleted(l linkstore.Link, purge bool) {
	if h.deps.Events != nil {
		e := linkevents.NewDeleted(l, linkevents.ReasonAPI, h.cfg.Now())
		if purge {
			e = e.WithPurge()
		}
		h.deps.Events.Publish(e)
	}
}
