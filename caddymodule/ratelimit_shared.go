package caddymodule

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/ratelimit"
)

// Bounds of RateLimit.SyncInterval: below a millisecond the pipelines
// would cost more than the round trips per request they replace; beyond
// ten seconds the overshoot across edges (edges × rate × interval) is
// hardly a shared limit any more.
const (
	minSyncInterval = time.Millisecond
	maxSyncInterval = 10 * time.Second
)

// syncedLimiter makes a Synced limiter a caddy.Destructor for the pool,
// so that its buckets and its goroutine survive reloads like a local
// limiter's, and carries the handlers its syncs report to.
type syncedLimiter struct {
	*ratelimit.Synced
	sinks *syncSinks
}

// Destruct stops the limiter's goroutine and drops its state.
func (l syncedLimiter) Destruct() error {
	l.Close()
	return nil
}

// syncSinks are where the syncs of one pooled limiter report: the
// counter and logger of each handler using it. The limiter outlives a
// reload, and each config has its own metrics: the last handler
// provisioned, that is, of the newest config, gets the reports.
type syncSinks struct {
	mu   sync.Mutex
	list []*syncSink
}

// syncSink is one handler's counter of requests the shared limit did not
// see (shortify_edge_rate_limit_errors_total) and its sampled logger.
type syncSink struct {
	lost counter
	log  *zap.Logger
}

func (s *syncSinks) add(k *syncSink) {
	s.mu.Lock()
	s.list = append(s.list, k)
	s.mu.Unlock()
}

func (s *syncSinks) remove(k *syncSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range s.list {
		if v == k {
			s.list = append(s.list[:i], s.list[i+1:]...)
			return
		}
	}
}

// report counts and logs the requests a sync could not count in Redis:
// the local bucket alone decided them.
func (s *syncSinks) report(r ratelimit.SyncResult) {
	if r.Lost == 0 {
		return
	}
	s.mu.Lock()
	var k *syncSink
	if n := len(s.list); n > 0 {
		k = s.list[n-1]
	}
	s.mu.Unlock()
	if k == nil {
		return
	}
	k.lost.Add(float64(r.Lost))
	if r.Err != nil {
		if ce := k.log.Check(zap.WarnLevel, "shared rate limit unavailable; limiting on this edge alone"); ce != nil {
			ce.Write(zap.Error(r.Err), zap.Int64("requests", r.Lost), zap.Int("clients", r.Keys))
		}
		return
	}
	if ce := k.log.Check(zap.WarnLevel, "shared rate limit: more clients between two syncs than it counts; limiting the others on this edge alone"); ce != nil {
		ce.Write(zap.Int64("requests", r.Lost))
	}
}

// sinkEntry is a handler's place in a limiter's sinks, held in the pool
// under a key of the handler's own, so that the handler's Cleanup (which
// releases its pool keys) takes it out.
type sinkEntry struct {
	sinks *syncSinks
	sink  *syncSink
}

// Destruct takes the handler's sink out of the limiter's.
func (e sinkEntry) Destruct() error {
	e.sinks.remove(e.sink)
	return nil
}

// syncedLimiter returns the pooled Synced limiter for c (whose limit is l)
// on the handler's Redis, and makes the handler one of its sinks.
func (h *Handler) syncedLimiter(c *RateLimit, l ratelimit.Limit) (*ratelimit.Synced, error) {
	interval := time.Duration(c.SyncInterval)
	key := "shortify/ratelimit-shared/" + hashKey(l.Rate, l.Burst, l.Name, c.MaxClients, h.Redis, interval, h.hookKey())
	v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
		sinks := new(syncSinks)
		maxPending := ratelimit.DefaultMaxPending
		if c.MaxClients > 0 {
			maxPending = min(maxPending, c.MaxClients)
		}
		opts := ratelimit.SyncedOptions{
			// The keys of the per-request script before: edges of both
			// kinds share the counts during a rolling upgrade.
			Prefix:     "shortify:ratelimit:edge:" + l.Name + ":",
			Interval:   interval,
			Timeout:    redisWait, // cache.go: the same bound as a request's Redis calls
			MaxKeys:    c.MaxClients,
			MaxPending: maxPending,
			OnSync:     sinks.report,
		}
		if h.clock != nil {
			opts.Clock = h.clock
		}
		s, err := ratelimit.NewSynced(h.res.redis, l, opts)
		if err != nil {
			return nil, err
		}
		return syncedLimiter{s, sinks}, nil
	})
	if err != nil {
		return nil, err
	}
	sl := v.(syncedLimiter)
	sink := &syncSink{lost: h.stats.rateLimitErrors, log: h.l2log}
	// The handler's pointer makes the key its own; Cleanup releases it.
	if _, err := h.loadOrNew(fmt.Sprintf("shortify/ratelimit-sink/%p/%s", h, key), func() (caddy.Destructor, error) {
		sl.sinks.add(sink)
		return sinkEntry{sl.sinks, sink}, nil
	}); err != nil {
		return nil, err
	}
	return sl.Synced, nil
}
