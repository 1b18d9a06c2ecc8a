package caddymodule

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/flatcache"
	"github.com/shortify/shortify/internal/invalidation"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
)

// Invalidation (docs/architecture.md, "Link events and invalidation"):
// every edge reads the control plane's link
// events (package invalidation: no consumer group, from the newest offset)
// and applies each one, within a second, to every L1 of this process that
// handlers on the same brokers and topic use, and to their Redis L2:
//
//   - updated, disabled: the event carries the link's new state, which
//     replaces the L1 entry if the code is cached (no reload at all); an
//     uncached code is invalidated all the same, which cancels a load in
//     flight that may have read the old state. The L2 key is deleted
//     (package l2cache leaves a tombstone that no edge can fill over).
//   - deleted: the code leaves L1, and its L2 key is deleted likewise.
//   - created: a cached "unknown code" entry leaves L1 (L2 holds no
//     negative entries; the control plane wrote the link through).
//
// Read replicas lag (up to pgstore.DefaultReplicaMaxLag before a replica
// leaves the rotation): a reload right after an eviction could read the
// old link from a lagging replica and cache it for a whole TTL. So every
// code changed by an event is remembered for confirmWindow, and the
// loader reads such a code from the primary (linkstore.Store.Get) instead
// of Lookup. Together with the L2 tombstone, no load after the event can
// bring back the old state. (A load that started before the event and
// ends after it is kept out of the L1, since the event wrote or deleted
// the key: the requests that waited for it get its answer, and the next
// one loads again, from the primary.)

// confirmWindow is how long after an event a code is read from the
// primary: twice the largest lag a replica in rotation may have (its lag
// is checked every second), which also covers a load under way.
const confirmWindow = 2 * pgstore.DefaultReplicaMaxLag

// maxRecent bounds the codes remembered for confirmWindow (about 100
// bytes each). A burst beyond it (the cleanup job deleting many expired
// links at once) sends every load to the primary for confirmWindow.
const maxRecent = 100_000

// l2EvictTimeout bounds one Redis delete, so that a Redis outage delays
// the next events by this much at most.
const l2EvictTimeout = 500 * time.Millisecond

// invalidator is the pooled consumer of one (brokers, topic) and the
// registry of the L1 caches it applies events to.
type invalidator struct {
	consumer *invalidation.Consumer
	recent   recentSet

	mu      sync.Mutex
	targets map[*flatcache.Cache[entry]]*targetL1
}

// targetL1 is one L1 with its L2, registered by the handlers that use it.
type targetL1 struct {
	l1      *flatcache.Cache[entry]
	l2      *l2cache.Cache // nil without Redis
	now     func() int64   // the L1's clock, for the entries it writes
	applied atomic.Pointer[counter]
	refs    int // guarded by invalidator.mu
}

// newInvalidator starts a consumer of topic on brokers.
func newInvalidator(brokers []string, topic string, logger *slog.Logger) (*invalidator, error) {
	v := &invalidator{targets: make(map[*flatcache.Cache[entry]]*targetL1)}
	c, err := invalidation.New(invalidation.Config{
		Brokers: brokers,
		Topic:   topic,
		Evict:   v.evict,
		Logger:  logger,
	})
	if err != nil {
		return nil, err
	}
	// The consumer's own context: Close (Destruct) ends it.
	if err := c.Start(context.Background()); err != nil {
		return nil, err
	}
	v.consumer = c
	return v, nil
}

// register adds l1 (with its L2) to the caches events apply to and
// returns its registration; applied counts the events applied to it. A
// cache registered by several handlers is registered once, counted.
func (v *invalidator) register(l1 *flatcache.Cache[entry], l2 *l2cache.Cache, applied counter, now func() int64) *targetL1 {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.targets[l1]
	if t == nil {
		t = &targetL1{l1: l1, l2: l2, now: now}
		v.targets[l1] = t
	}
	t.refs++
	t.applied.Store(&applied) // the newest config's metrics
	return t
}

// unregister undoes one register.
func (v *invalidator) unregister(t *targetL1) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.refs--; t.refs <= 0 {
		delete(v.targets, t.l1)
	}
}

// evict is the consumer's EvictFunc: it applies e to every registered L1
// and its L2. The L2 goes first, so that a load between the two finds the
// tombstone rather than the old value; a Redis failure is returned (and
// counted by the consumer) after the L1s are done.
func (v *invalidator) evict(ctx context.Context, code string, e linkevents.Event) error {
	if e.Type != linkevents.Created {
		v.recent.add(code, time.Now().UnixNano())
	}
	v.mu.Lock()
	targets := make([]*targetL1, 0, len(v.targets))
	for _, t := range v.targets {
		targets = append(targets, t)
	}
	v.mu.Unlock()

	var errs []error
	for _, t := range targets {
		if t.l2 != nil && e.Type != linkevents.Created {
			dctx, cancel := context.WithTimeout(ctx, l2EvictTimeout)
			if err := t.l2.Delete(dctx, code); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		t.apply(code, e)
		t.applied.Load().Inc()
	}
	return errors.Join(errs...)
}

// apply applies e to the L1.
func (t *targetL1) apply(code string, e linkevents.Event) {
	switch e.Type {
	case linkevents.Created:
		// A cached "unknown code" goes, and so does the result of a load
		// in flight (Delete of an absent code), which may have read the
		// code before it existed; a found link is left alone.
		if old, _, ok := t.l1.Peek(code); !ok || old.state == stateUnknown {
			t.l1.Delete(code)
		}
	case linkevents.Updated, linkevents.Disabled:
		s := e.State
		ne := entryOf(linkstore.Link{ID: e.LinkID, Code: code, URL: s.URL, Status: s.Status, ExpiresAt: s.ExpiresAt, Disabled: s.Disabled})
		ne.born = bornAt(t.now())
		// Replaced only when the code is cached (the L1 copies the URL out
		// of the event's buffer); either way a load in flight is not kept.
		t.l1.Replace(code, ne, s.URL)
	default: // deleted, and types of later versions: drop the code
		t.l1.Delete(code)
	}
}

// Destruct stops the consumer.
func (v *invalidator) Destruct() error {
	v.consumer.Close()
	return nil
}

// lookup reads code for the loader: from the primary when a link event
// changed it within confirmWindow, else with Lookup (replicas).
func (h *Handler) lookup(ctx context.Context, store linkstore.Store, code string) (linkstore.Link, error) {
	if ev := h.events; ev != nil && ev.inval != nil && ev.inval.recent.has(code, time.Now().UnixNano()) {
		return store.Get(ctx, code)
	}
	return store.Lookup(ctx, code)
}

// recentSet remembers the codes that events changed, each until a
// deadline (Unix ns).
type recentSet struct {
	size     atomic.Int64 // len(until), so that has skips the lock when empty
	allUntil atomic.Int64 // after an overflow: every code until then
	mu       sync.Mutex
	until    map[string]int64
}

// add remembers code until now + confirmWindow.
func (s *recentSet) add(code string, now int64) {
	deadline := now + int64(confirmWindow)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = make(map[string]int64)
	}
	if _, ok := s.until[code]; !ok && len(s.until) >= maxRecent {
		for c, d := range s.until {
			if d <= now {
				delete(s.until, c)
			}
		}
		if len(s.until) >= maxRecent {
			// Still full: confirm every code for the window instead.
			clear(s.until)
			s.allUntil.Store(deadline)
		}
	}
	s.until[code] = deadline
	s.size.Store(int64(len(s.until)))
}

// has reports whether code was changed within confirmWindow before now.
func (s *recentSet) has(code string, now int64) bool {
	if now < s.allUntil.Load() {
		return true
	}
	if s.size.Load() == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.until[code]
	if ok && d <= now {
		delete(s.until, code)
		s.size.Store(int64(len(s.until)))
		return false
	}
	return ok
}

// Interface guard.
var _ caddy.Destructor = (*invalidator)(nil)
