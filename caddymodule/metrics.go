package caddymodule

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the edge's Prometheus collectors, registered with the
// metrics registry of the Caddy config that provisions the handler (Caddy's
// /metrics endpoint serves it). Every handler of one config shares them:
// a registry gets one set, and a second handler finds it there
// (AlreadyRegisteredError). A config reload brings a new registry and so
// new collectors, which start from zero, as Caddy's own HTTP metrics do;
// Prometheus's rate() reads that as a counter reset.
//
//	shortify_edge_requests_total{outcome}         redirect, not_found, gone, taken_down, rate_limited, error
//	shortify_edge_cache_requests_total{tier,result} tier l1, l2, store; result hit, miss
//	shortify_edge_l2_errors_total                 Redis reads and fills that failed (skipped)
//	shortify_edge_lookup_duration_seconds{tier}   l2 (Redis GET), store (link store Lookup)
//	shortify_edge_rate_limited_total{limit}       requests, misses
//	shortify_edge_rate_limit_errors_total         requests the shared (Redis) limit never saw
//	shortify_edge_click_queue_depth               click events waiting to be produced
//	shortify_edge_click_events_total{result}      produced, dropped, failed
//	shortify_edge_invalidations_total             codes evicted on a link event
//	shortify_edge_refused_targets_total{tier}     loaded links whose target failed the check (l2, store)
//	shortify_edge_takedowns_served_total          451 answers for taken-down links
//	shortify_edge_blocked_clicks_total            clicks answered with the interstitial (blocked.go)
//	shortify_edge_unknown_hosts_total             requests for a host neither own nor a verified domain (domains.go)
//	shortify_edge_click_limit_total{outcome}      claims of limited links: claimed, exhausted, error (smart.go)
//	shortify_edge_password_attempts_total{outcome} ok, wrong, limited, csrf, busy (password_config.go)
//	shortify_edge_l1_entries, _l1_capacity, _l1_evictions_total (l1metrics.go)
type metrics struct {
	requests      *prometheus.CounterVec
	cache         *prometheus.CounterVec
	l2Errors      prometheus.Counter
	latency       *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	limitErrors   prometheus.Counter
	queueDepth    prometheus.Gauge
	clickEvents   *prometheus.CounterVec
	invalidations prometheus.Counter
	refused       *prometheus.CounterVec
	takedowns     prometheus.Counter
	blocked       prometheus.Counter
	unknownHosts  prometheus.Counter
	clickLimit    *prometheus.CounterVec
	l1            *l1Collector
}

const metricsNamespace, metricsSubsystem = "shortify", "edge"

// Outcomes of a request (the outcome label).
const (
	outcomeRedirect    = "redirect"
	outcomeNotFound    = "not_found"
	outcomeGone        = "gone"
	outcomeTakenDown   = "taken_down"
	outcomeRateLimited = "rate_limited"
	outcomeError       = "error"
)

// latencyBuckets suit lookups that take from 100µs (Redis on the same
// host) to the 2 s lookup timeout.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newMetrics() *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total",
			"Requests for a short code answered by the edge, by outcome.")), []string{"outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts(opts("cache_requests_total",
			"Lookups of a code in each tier (l1, l2, store) by result (hit, miss).")), []string{"tier", "result"}),
		l2Errors: prometheus.NewCounter(prometheus.CounterOpts(opts("l2_errors_total",
			"Redis L2 reads and fills that failed and were skipped."))),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "lookup_duration_seconds",
			Help:    "Time to look a code up in Redis (tier l2) or the link store (tier store).",
			Buckets: latencyBuckets,
		}, []string{"tier"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts(opts("rate_limited_total",
			"Requests refused with 429, by the limit that refused them (requests, misses).")), []string{"limit"}),
		limitErrors: prometheus.NewCounter(prometheus.CounterOpts(opts("rate_limit_errors_total",
			"Requests the shared (Redis) rate limit never saw, their counts lost to a failed sync or the pending-client cap; the local limiter decided them alone."))),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts(opts("click_queue_depth",
			"Click events in the in-memory queue, waiting for the Kafka producer."))),
		clickEvents: prometheus.NewCounterVec(prometheus.CounterOpts(opts("click_events_total",
			"Click events by result: produced (acknowledged by Kafka), dropped (queue full), failed (Kafka refused).")), []string{"result"}),
		invalidations: prometheus.NewCounter(prometheus.CounterOpts(opts("invalidations_total",
			"Codes evicted from the caches because a link event said they changed."))),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("refused_targets_total",
			"Links loaded from Redis (tier l2) or the store whose target failed the edge's check (not http(s), no host, control characters): answered 410, never redirected.")), []string{"tier"}),
		takedowns: prometheus.NewCounter(prometheus.CounterOpts(opts("takedowns_served_total",
			"Requests for a link an administrator took down, answered 451 Unavailable For Legal Reasons."))),
		blocked: prometheus.NewCounter(prometheus.CounterOpts(opts("blocked_clicks_total",
			"Clicks answered with the interstitial page because the link's target is on a threat feed or the admin blocklist."))),
		unknownHosts: prometheus.NewCounter(prometheus.CounterOpts(opts("unknown_hosts_total",
			"Requests for a host that is neither one of the instance's hosts nor a verified custom domain, answered 404 without a lookup."))),
		clickLimit: prometheus.NewCounterVec(prometheus.CounterOpts(opts("click_limit_total",
			"Clicks of links with max_clicks by outcome: claimed (counted and redirected), exhausted (the limit was reached), error (the counter could not be reached: 503).")), []string{"outcome"}),
		l1: newL1Collector(),
	}
}

// collectors lists m's collectors, each a pointer to one field of m, so
// that register can swap in the collector a registry already has.
func (m *metrics) collectors() []any {
	return []any{&m.requests, &m.cache, &m.l2Errors, &m.latency, &m.rateLimited,
		&m.limitErrors, &m.queueDepth, &m.clickEvents, &m.invalidations, &m.refused, &m.takedowns, &m.blocked, &m.unknownHosts, &m.clickLimit, &m.l1}
}

// metricsFor returns the collectors registered with reg: new ones, or the
// ones an earlier handler of the same config registered. A nil reg gets
// collectors that nothing gathers.
func metricsFor(reg prometheus.Registerer) (*metrics, error) {
	m := newMetrics()
	if reg == nil {
		return m, nil
	}
	for _, p := range m.collectors() {
		if err := register(reg, p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers *p with reg, or, when reg has an equal collector
// already, points *p at that one.
func register(reg prometheus.Registerer, p any) error {
	var c prometheus.Collector
	switch p := p.(type) {
	case *prometheus.Counter:
		c = *p
	case *prometheus.Gauge:
		c = *p
	case **prometheus.CounterVec:
		c = *p
	case **prometheus.HistogramVec:
		c = *p
	case **l1Collector:
		c = *p
	default:
		return fmt.Errorf("shortify_edge: metrics: unexpected collector %T", p)
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		if err != nil {
			return fmt.Errorf("shortify_edge: register metrics: %w", err)
		}
		return nil
	}
	ok := false
	switch p := p.(type) {
	case *prometheus.Counter:
		*p, ok = are.ExistingCollector.(prometheus.Counter)
	case *prometheus.Gauge:
		*p, ok = are.ExistingCollector.(prometheus.Gauge)
	case **prometheus.CounterVec:
		*p, ok = are.ExistingCollector.(*prometheus.CounterVec)
	case **prometheus.HistogramVec:
		*p, ok = are.ExistingCollector.(*prometheus.HistogramVec)
	case **l1Collector:
		*p, ok = are.ExistingCollector.(*l1Collector)
	}
	if !ok {
		return fmt.Errorf("shortify_edge: metrics: %T registered by someone else under the same name", are.ExistingCollector)
	}
	return nil
}

// stats are the children of the metrics that the request path updates,
// resolved once in Provision so that a request pays an atomic add per
// count and never a label lookup. Tests read them (helpers_test.go).
type stats struct {
	redirects, notFound, gone, takenDown, limited, errors counter

	l1Hits, l1Misses       counter
	l2Hits, l2Misses       counter
	storeHits, storeMisses counter
	l2Errors               counter

	l2Latency, storeLatency prometheus.Observer

	limitedRequests, limitedMisses counter
	rateLimitErrors                counter

	refusedL2, refusedStore counter

	takedowns counter

	claimed, exhausted, claimErrors counter // shortify_edge_click_limit_total
}

// refusedTarget is the counter of targets refused from tier (target.go).
func (s *stats) refusedTarget(tier string) counter {
	if tier == "l2" {
		return s.refusedL2
	}
	return s.refusedStore
}

// counter is a Prometheus counter; a type of its own so that tests can
// read it.
type counter struct{ prometheus.Counter }

func newStats(m *metrics) *stats {
	c := func(v *prometheus.CounterVec, labels ...string) counter {
		return counter{v.WithLabelValues(labels...)}
	}
	return &stats{
		redirects: c(m.requests, outcomeRedirect),
		notFound:  c(m.requests, outcomeNotFound),
		gone:      c(m.requests, outcomeGone),
		takenDown: c(m.requests, outcomeTakenDown),
		limited:   c(m.requests, outcomeRateLimited),
		errors:    c(m.requests, outcomeError),

		l1Hits:      c(m.cache, "l1", "hit"),
		l1Misses:    c(m.cache, "l1", "miss"),
		l2Hits:      c(m.cache, "l2", "hit"),
		l2Misses:    c(m.cache, "l2", "miss"),
		storeHits:   c(m.cache, "store", "hit"),
		storeMisses: c(m.cache, "store", "miss"),
		l2Errors:    counter{m.l2Errors},

		l2Latency:    m.latency.WithLabelValues("l2"),
		storeLatency: m.latency.WithLabelValues("store"),

		limitedRequests: c(m.rateLimited, "requests"),
		limitedMisses:   c(m.rateLimited, "misses"),
		rateLimitErrors: counter{m.limitErrors},

		refusedL2:    c(m.refused, "l2"),
		refusedStore: c(m.refused, "store"),

		takedowns: counter{m.takedowns},

		claimed:     c(m.clickLimit, "claimed"),
		exhausted:   c(m.clickLimit, "exhausted"),
		claimErrors: c(m.clickLimit, "error"),
	}
}
