package deliver

import (
	"context"
	"fmt"
	"time"

	"github.com/shortify/shortify/webhooks"
)

// subscribersMax bounds the cache; it starts over when full.
const subscribersMax = 10_000

// subscribers caches Store.Subscribers for a short while: every record
// asks, and most workspaces have no endpoints at all.
type subscribers struct {
	store webhooks.Store
	ttl   time.Duration
	now   func() time.Time
	m     map[subsKey]subsEntry
}

type subsKey struct {
	ws int64
	ev webhooks.Event
}

type subsEntry struct {
	eps     []webhooks.Endpoint
	expires time.Time
}

func newSubscribers(s webhooks.Store, ttl time.Duration, now func() time.Time) *subscribers {
	return &subscribers{store: s, ttl: ttl, now: now, m: map[subsKey]subsEntry{}}
}

// get returns the enabled endpoints of workspace ws subscribed to ev
// that existed at the event's time at: an endpoint hears of what
// happens after its creation only (the consumer may read history).
func (s *subscribers) get(ctx context.Context, ws int64, ev webhooks.Event, at time.Time) ([]webhooks.Endpoint, error) {
	now := s.now()
	k := subsKey{ws, ev}
	e, ok := s.m[k]
	if !ok || now.After(e.expires) {
		eps, err := s.store.Subscribers(ctx, ws, ev)
		if err != nil {
			return nil, fmt.Errorf("deliver: subscribers of workspace %d: %w", ws, err)
		}
		if len(s.m) >= subscribersMax {
			clear(s.m)
		}
		e = subsEntry{eps: eps, expires: now.Add(s.ttl)}
		s.m[k] = e
	}
	if len(e.eps) == 0 {
		return nil, nil
	}
	out := make([]webhooks.Endpoint, 0, len(e.eps))
	for _, ep := range e.eps {
		if !at.Before(ep.CreatedAt) {
			out = append(out, ep)
		}
	}
	return out, nil
}
