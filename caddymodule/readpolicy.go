package caddymodule

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
)

// The read policy of the loader (cache.go): which copy of the link store a
// miss reads, a read replica (Lookup) or the primary (Get).
//
// Read replicas lag (up to pgstore.DefaultReplicaMaxLag before a replica
// leaves the rotation): a reload right after an eviction could read the
// old link from a lagging replica and cache it for a whole TTL. So every
// code changed by an event is remembered for confirmWindow, and the
// loader reads such a code from the primary (linkstore.Store.LookupPrimary)
// instead of Lookup. (Not Get: that is the owner's view, which does not see
// a retired-expired link, and the edge must keep answering 410 for it.) Together with the L2 tombstone, no load after the event can
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

// lookup reads code on domain for the loader: from the primary when a
// link event changed it (its L1 key, key) within confirmWindow, else with
// Lookup (replicas).
func (h *Handler) lookup(ctx context.Context, store linkstore.Store, key, domain, code string) (linkstore.Link, error) {
	if h.inval != nil && h.inval.recent.has(key, time.Now().UnixNano()) {
		return store.LookupPrimary(ctx, domain, code)
	}
	return store.Lookup(ctx, domain, code)
}

// recentSet remembers the codes (L1 keys: domain and code) that events changed, each until a
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
