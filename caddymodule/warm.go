package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/caddyopt"
	"github.com/shortify/shortify/internal/linkstore"
)

// Warm start: a new edge fills its L1 with the hottest codes before its
// readiness endpoint (shortify_edge_ready, ready.go) answers 200, so that
// a deploy does not send a wave of misses below the L1. The hot list is
// what every edge publishes to Redis (hot.go); the links come from the
// Redis L2 in pipelined batches, and those Redis lacks from the store
// (docs/decisions/0007-edge-warm-start.md). Without Redis (the embedded
// default) there is no hot list: warm start is off and the edge is ready
// at once.

// Defaults of WarmStart.
const (
	DefaultWarmCount   = 10_000
	DefaultWarmTimeout = 10 * time.Second
	DefaultWarmPublish = 15 * time.Second
)

const (
	// warmBatch is how many codes one pipelined L2 read asks for.
	warmBatch = 256
	// warmStoreWorkers bounds the store lookups a warm start runs at once
	// for the codes Redis lacks: the database serves live misses too.
	warmStoreWorkers = 4
)

// WarmStart configures the warm start of the edge's L1 and the hot list
// it reads (Caddyfile: warm, warm_count, warm_timeout, warm_publish).
type WarmStart struct {
	// Off turns warm start off: the edge neither samples its redirects
	// into the hot list nor reads it, and is ready at once. Warm start is
	// off anyway without Redis.
	Off bool `json:"off,omitempty"`

	// Count is how many of the hottest codes a new L1 is filled with
	// before the edge is ready. Default: 10000.
	Count int `json:"count,omitempty"`

	// Timeout bounds the warm start: the edge reports ready when it is
	// done or this long after it began, whichever comes first; what is
	// not loaded by then loads on its first miss as usual. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Publish is how often the edge adds the codes it sampled to the hot
	// list in Redis. Default: 15s.
	Publish caddy.Duration `json:"publish,omitempty"`
}

// setWarmOption parses the warm start's subdirectives; ok is false for
// any other.
func (h *Handler) setWarmOption(o *caddyopt.Option) (ok bool, err error) {
	switch o.Name {
	case "warm":
		v, err := o.One()
		if err != nil {
			return true, err
		}
		switch v {
		case "on":
			h.Warm.Off = false
		case "off":
			h.Warm.Off = true
		default:
			return true, o.Errf("warm %q: want on or off", v)
		}
		return true, nil
	case "warm_count":
		return true, o.PositiveInt(&h.Warm.Count, "codes")
	case "warm_timeout":
		return true, o.PositiveDuration(&h.Warm.Timeout)
	case "warm_publish":
		return true, o.PositiveDuration(&h.Warm.Publish)
	}
	return false, nil
}

// validateWarm checks the warm start's settings.
func (h *Handler) validateWarm() []error {
	var errs []error
	if h.Warm.Count < 0 {
		errs = append(errs, fmt.Errorf("warm_count %d: must be positive", h.Warm.Count))
	}
	if h.Warm.Timeout < 0 {
		errs = append(errs, fmt.Errorf("warm_timeout %s: must be positive", time.Duration(h.Warm.Timeout)))
	}
	if h.Warm.Publish < 0 {
		errs = append(errs, fmt.Errorf("warm_publish %s: must be positive", time.Duration(h.Warm.Publish)))
	}
	return errs
}

// provisionWarm starts sampling into the hot list and, for a new L1, the
// warm start. Both are pooled: a reload that keeps the Redis and the L1
// keeps them (and does not warm again).
func (h *Handler) provisionWarm(reg prometheus.Registerer) error {
	if h.Warm.Count == 0 {
		h.Warm.Count = DefaultWarmCount
	}
	h.Warm.Timeout = cmpDuration(h.Warm.Timeout, DefaultWarmTimeout)
	h.Warm.Publish = cmpDuration(h.Warm.Publish, DefaultWarmPublish)
	if h.Warm.Off || h.res.redis == nil {
		return nil
	}
	m, err := warmMetricsFor(reg)
	if err != nil {
		return err
	}

	every := cmpInt(h.hotEvery, hotSampleEvery)
	rdb, prefix, interval, count, log := h.res.redis, h.RedisPrefix, time.Duration(h.Warm.Publish), h.Warm.Count, h.l2log
	hotKey := "shortify/hot/" + hashKey(h.Redis, prefix, h.Warm.Publish, count, every, h.hookKey())
	v, err := h.loadOrNew(hotKey, func() (caddy.Destructor, error) {
		return newHotTracker(rdb, prefix, every, interval, hotListCap(count), log), nil
	})
	if err != nil {
		return fmt.Errorf("hot list: %w", err)
	}
	h.hot = v.(*hotTracker)

	warmKey := "shortify/warm/" + hashKey(h.res.l1Key, count, h.Warm.Timeout)
	v, err = h.loadOrNew(warmKey, func() (caddy.Destructor, error) {
		return startWarm(h, m), nil
	})
	if err != nil {
		return fmt.Errorf("warm start: %w", err)
	}
	h.warm = v.(*warmer)
	return nil
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// warmer is one warm start of one L1: a pooled resource keyed by the L1
// and the warm settings, registered with warmups while it lives.
type warmer struct {
	deadline time.Time
	cancel   context.CancelFunc
	done     chan struct{} // closed when the run ended
	reg      *warmRegistry // where it is registered

	total  atomic.Int64 // codes on the hot list read
	loaded atomic.Int64 // of them now in the L1
	tookNs atomic.Int64 // how long the run took, once done
}

// startWarm registers a warmer and starts its run, which fills h's L1.
// The run uses h's L1, L2 and store (which outlive h on a reload that
// keeps them) and ends at the warm timeout or on Destruct.
func startWarm(h *Handler, m *warmMetrics) *warmer {
	timeout := time.Duration(h.Warm.Timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	reg := h.warmReg
	if reg == nil {
		reg = warmups
	}
	w := &warmer{deadline: time.Now().Add(timeout), cancel: cancel, done: make(chan struct{}), reg: reg}
	reg.add(w)
	go func() {
		defer close(w.done)
		defer cancel()
		start := time.Now()
		err := w.run(ctx, h, m)
		took := time.Since(start)
		w.tookNs.Store(int64(took))
		m.seconds.Set(took.Seconds())
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			h.logger.Warn("warm start stopped at warm_timeout; the rest loads on first use",
				zap.Int64("loaded", w.loaded.Load()), zap.Int64("hot_codes", w.total.Load()), zap.Duration("took", took))
		case err != nil && !errors.Is(err, context.Canceled):
			h.logger.Warn("warm start failed; the L1 fills on first use", zap.Error(err),
				zap.Int64("loaded", w.loaded.Load()), zap.Duration("took", took))
		case err == nil:
			h.logger.Info("warm start done",
				zap.Int64("loaded", w.loaded.Load()), zap.Int64("hot_codes", w.total.Load()), zap.Duration("took", took))
		}
	}()
	return w
}

// run reads the hot list and loads its codes into the L1: first those in
// the L2, in pipelined batches, then the ones Redis lacks from the store,
// in batches when it can (PostgreSQL), else warmStoreWorkers at a time
// (after, so that a slow database never holds back what Redis has). Every entry goes in through the L1's Load, which
// keeps out a value that an invalidation overtook while it was read.
func (w *warmer) run(ctx context.Context, h *Handler, m *warmMetrics) error {
	keys, err := readHotList(ctx, h.res.redis, h.RedisPrefix, h.Warm.Count, time.Now())
	if err != nil {
		return err
	}
	w.total.Store(int64(len(keys)))
	var missing []string
	for rest := keys; len(rest) > 0 && ctx.Err() == nil; {
		batch := rest[:min(warmBatch, len(rest))]
		rest = rest[len(batch):]
		lks := make([]linkstore.Key, len(batch))
		for i, k := range batch {
			lks[i].Domain, lks[i].Code = splitL1Key(k)
		}
		found, err := h.l2.GetMany(ctx, lks)
		if err != nil {
			// Redis failed between the list and now: the store answers.
			h.stats.l2Errors.Inc()
			missing = append(missing, batch...)
			continue
		}
		for i, key := range batch {
			if !found[i].OK {
				missing = append(missing, key)
				continue
			}
			l := found[i].Link
			if _, _, err := h.l1.Load(ctx, key, func(context.Context, string) (entry, string, error) {
				e, url := h.loaded("l2", l)
				return e, url, nil
			}); err == nil {
				w.loaded.Add(1)
				m.l2.Inc()
			}
		}
	}

	if len(missing) == 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	store, err := h.res.store.get(ctx)
	if err != nil {
		return err
	}
	if ml, ok := store.(manyLooker); ok {
		missing = w.loadMany(ctx, h, m, ml, missing)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, warmStoreWorkers)
	for _, key := range missing {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, _, err := h.l1.Load(ctx, key, h.load); err == nil {
				w.loaded.Add(1)
				m.store.Inc()
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// manyLooker is a link store that looks many codes up in one round trip
// (pgstore.Store.LookupMany); the warm start uses it when the store has
// it, and Lookup, warmStoreWorkers at a time, when not.
type manyLooker interface {
	LookupMany(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]linkstore.Link, error)
}

// loadMany loads keys from ml in batches of warmBatch, fills the L2 with
// the links found and puts every answer (a link, or a negative entry) in
// the L1. It returns the keys of the batches that failed, for the
// one-by-one path.
func (w *warmer) loadMany(ctx context.Context, h *Handler, m *warmMetrics, ml manyLooker, keys []string) (failed []string) {
	for len(keys) > 0 && ctx.Err() == nil {
		batch := keys[:min(warmBatch, len(keys))]
		keys = keys[len(batch):]
		lks := make([]linkstore.Key, len(batch))
		for i, k := range batch {
			lks[i].Domain, lks[i].Code = splitL1Key(k)
		}
		start := time.Now()
		found, err := ml.LookupMany(ctx, lks)
		h.stats.storeLatency.Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() == nil {
				h.l2log.Warn("warm start: batched lookup failed; looking the codes up one by one", zap.Error(err))
			}
			failed = append(failed, batch...)
			continue
		}
		for i, key := range batch {
			l, ok := found[lks[i]]
			if !ok {
				h.stats.storeMisses.Inc()
				continue // unknown now: a miss will say so, as without warm start
			}
			h.stats.storeHits.Inc()
			if _, err := h.l2.Fill(ctx, l); err != nil && ctx.Err() == nil {
				h.stats.l2Errors.Inc()
			}
			if _, _, err := h.l1.Load(ctx, key, func(context.Context, string) (entry, string, error) {
				e, url := h.loaded("store", l)
				return e, url, nil
			}); err == nil {
				w.loaded.Add(1)
				m.store.Inc()
			}
		}
	}
	return failed
}

// ready reports whether the warm start is over: done, or past its
// deadline (a load in flight at the deadline may still finish, but the
// edge does not wait for it).
func (w *warmer) ready(now time.Time) bool {
	select {
	case <-w.done:
		return true
	default:
		return !now.Before(w.deadline)
	}
}

// Destruct stops the run, waits for it and unregisters the warmer.
func (w *warmer) Destruct() error {
	w.cancel()
	<-w.done
	w.reg.remove(w)
	return nil
}

// warmups are the warm starts of this process and its first loads of the
// custom domains: the readiness endpoint (ready.go) answers 200 only when
// every one is over. Process-wide like the pool, because the endpoint is
// served by another site (the ops port) than the edge whose L1 is warming.
var warmups = &warmRegistry{m: make(map[readyGate]struct{})}

// readyGate is what an edge waits for before it is ready: a warm start
// (warmer) or the first load of the custom domains (domainGate).
type readyGate interface {
	ready(now time.Time) bool
}

// warmRegistry is a set of ready gates.
type warmRegistry struct {
	mu sync.Mutex
	m  map[readyGate]struct{}
}

func (r *warmRegistry) add(g readyGate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[g] = struct{}{}
}

func (r *warmRegistry) remove(g readyGate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, g)
}

// warmStatus is the registry's state for the readiness endpoint.
type warmStatus struct {
	ready         bool
	loaded, total int64 // summed over the warm starts still running
	domains       bool  // some edge has not loaded its custom domains yet
}

// status reports whether every gate is open and, if not, how far the
// running warm starts are.
func (r *warmRegistry) status(now time.Time) warmStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := warmStatus{ready: true}
	for g := range r.m {
		if g.ready(now) {
			continue
		}
		s.ready = false
		switch g := g.(type) {
		case *warmer:
			s.loaded += g.loaded.Load()
			s.total += g.total.Load()
		case *domainGate:
			s.domains = true
		}
	}
	return s
}

// warmMetrics are the warm start's collectors:
//
//	shortify_edge_warm_entries_total{source}  codes a warm start put in the L1, by where they came from (l2, store)
//	shortify_edge_warm_duration_seconds       how long the last warm start took
type warmMetrics struct {
	entries *prometheus.CounterVec
	seconds prometheus.Gauge

	l2, store prometheus.Counter
}

// warmMetricsFor returns the warm start's collectors registered with reg
// (or those an earlier handler of the config registered there).
func warmMetricsFor(reg prometheus.Registerer) (*warmMetrics, error) {
	m := &warmMetrics{
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "warm_entries_total",
			Help: "Codes a warm start put in the L1 before the edge reported ready, by source (l2: Redis, store: the link database).",
		}, []string{"source"}),
		seconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "warm_duration_seconds",
			Help: "How long the last warm start of the L1 took (bounded by warm_timeout).",
		}),
	}
	if reg != nil {
		for _, p := range []any{&m.entries, &m.seconds} {
			if err := register(reg, p); err != nil {
				return nil, err
			}
		}
	}
	m.l2, m.store = m.entries.WithLabelValues("l2"), m.entries.WithLabelValues("store")
	return m, nil
}
