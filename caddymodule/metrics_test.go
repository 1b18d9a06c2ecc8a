package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// provisionIn provisions h in ctx (the config whose registry it uses).
func provisionIn(t *testing.T, ctx caddy.Context, h *Handler) *Handler {
	t.Helper()
	if h.keySalt == "" {
		h.keySalt = t.Name()
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return h
}

// TestMetrics drives two handlers of one config through every outcome and
// tier and scrapes the config's registry for the exact counts.
func TestMetrics(t *testing.T) {
	t.Parallel()
	c, disabled := newCode(t, "m"), newCode(t, "off")
	dsn := seededDSN(t,
		linkstore.Link{Code: c, URL: "https://example.com/m"},
		linkstore.Link{Code: disabled, URL: "https://example.com/off", Disabled: true})
	redisAddr := testenv.RedisAddr(t)

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	clock := newFakeClock()
	a := provisionIn(t, ctx, &Handler{Database: dsn, clock: clock, keySalt: t.Name() + "a",
		RateLimit: &RateLimit{Requests: 2, Window: caddy.Duration(time.Minute)}})
	// A second handler of the same config registers nothing new: it
	// counts into the same collectors.
	b := provisionIn(t, ctx, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: testenv.UniquePrefix(t), keySalt: t.Name() + "b"})
	if a.metrics.requests != b.metrics.requests {
		t.Fatal("two handlers of one config have collectors of their own")
	}

	for _, req := range []struct {
		h    *Handler
		path string
		from string
		want int
	}{
		{a, "/" + c, "192.0.2.1:1", 302},               // l1 miss, store hit
		{a, "/" + c, "192.0.2.1:1", 302},               // l1 hit
		{a, "/" + c, "192.0.2.1:1", 429},               // rate limited, no lookup
		{a, "/" + newCode(t, "x"), "192.0.2.2:1", 404}, // l1 miss, store miss
		{a, "/" + disabled, "192.0.2.3:1", 410},        // l1 miss, store hit
		{b, "/" + c, "192.0.2.1:1", 302},               // l1 miss, l2 miss, store hit (fills L2)
		{b, "/" + newCode(t, "x"), "192.0.2.1:1", 404}, // l1 miss, l2 miss, store miss
		{a, "/not/a/code", "192.0.2.4:1", 404},         // no lookup at all
		{b, "/" + c, "192.0.2.1:1", 302},               // l1 hit
	} {
		if w := serveFrom(t, req.h, req.path, req.from, ""); w.Code != req.want {
			t.Fatalf("%s: %d, want %d", req.path, w.Code, req.want)
		}
	}
	b.l1.Delete(c)
	if w := serveFrom(t, b, "/"+c, "192.0.2.1:1", ""); w.Code != 302 { // l1 miss, l2 hit
		t.Fatalf("after eviction: %d", w.Code)
	}

	got := promtest.Samples(t, ctx.GetMetricsRegistry(), "shortify_")
	want := map[string]float64{
		"shortify_edge_requests_total{outcome=redirect}":             5,
		"shortify_edge_requests_total{outcome=not_found}":            3,
		"shortify_edge_requests_total{outcome=gone}":                 1,
		"shortify_edge_requests_total{outcome=taken_down}":           0, // takedown_test.go counts them
		"shortify_edge_takedowns_served_total{}":                     0,
		"shortify_edge_requests_total{outcome=rate_limited}":         1,
		"shortify_edge_requests_total{outcome=error}":                0,
		"shortify_edge_cache_requests_total{result=hit,tier=l1}":     2,
		"shortify_edge_cache_requests_total{result=miss,tier=l1}":    6,
		"shortify_edge_cache_requests_total{result=hit,tier=l2}":     1,
		"shortify_edge_cache_requests_total{result=miss,tier=l2}":    2,
		"shortify_edge_cache_requests_total{result=hit,tier=store}":  3,
		"shortify_edge_cache_requests_total{result=miss,tier=store}": 2,
		"shortify_edge_lookup_duration_seconds_count{tier=l2}":       3,
		"shortify_edge_lookup_duration_seconds_count{tier=store}":    5,
		"shortify_edge_l2_errors_total{}":                            0,
		"shortify_edge_rate_limited_total{limit=requests}":           1,
		"shortify_edge_rate_limited_total{limit=misses}":             0,
		"shortify_edge_rate_limit_errors_total{}":                    0,
		"shortify_edge_click_queue_depth{}":                          0,
		"shortify_edge_invalidations_total{}":                        0,
		"shortify_edge_refused_targets_total{tier=l2}":               0,
		"shortify_edge_refused_targets_total{tier=store}":            0,
		"shortify_edge_blocked_clicks_total{}":                       0,
		"shortify_edge_unknown_hosts_total{}":                        0,
		"shortify_edge_click_limit_total{outcome=claimed}":           0, // smart_limit_test.go counts them
		"shortify_edge_click_limit_total{outcome=exhausted}":         0,
		"shortify_edge_click_limit_total{outcome=error}":             0,
		// password_test.go counts the password checks.
		"shortify_edge_password_attempts_total{outcome=ok}":      0,
		"shortify_edge_password_attempts_total{outcome=wrong}":   0,
		"shortify_edge_password_attempts_total{outcome=limited}": 0,
		"shortify_edge_password_attempts_total{outcome=csrf}":    0,
		"shortify_edge_password_attempts_total{outcome=busy}":    0,
		// a's L1: c, the unknown code, the disabled link; b's: c, its
		// unknown code.
		"shortify_edge_l1_entries{}":          5,
		"shortify_edge_l1_capacity{}":         float64(a.l1.Capacity() + b.l1.Capacity()),
		"shortify_edge_l1_evictions_total{}":  0,
		"shortify_edge_l1_rejections_total{}": 0,
		// b has Redis: its warm start found an empty hot list (warm_test.go
		// counts loads).
		"shortify_edge_warm_entries_total{source=l2}":    0,
		"shortify_edge_warm_entries_total{source=store}": 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		// Latency sums are timings: their counts above are the check; so
		// is the warm start's duration.
		if _, ok := want[k]; !ok && !strings.Contains(k, "_seconds_sum{") && !strings.HasPrefix(k, "shortify_edge_warm_duration_seconds{") {
			t.Errorf("unexpected sample %s = %v", k, got[k])
		}
	}

	// A reload is a new config with a new registry: the handlers register
	// afresh there, without a panic or an error, and count from zero.
	ctx2, cancel2 := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel2()
	a2 := provisionIn(t, ctx2, &Handler{Database: dsn, clock: clock, keySalt: t.Name() + "a"})
	if w := serveFrom(t, a2, "/"+c, "192.0.2.1:1", ""); w.Code != 302 {
		t.Fatalf("after reload: %d", w.Code)
	}
	got2 := promtest.Samples(t, ctx2.GetMetricsRegistry(), "shortify_")
	if g := got2["shortify_edge_requests_total{outcome=redirect}"]; g != 1 {
		t.Errorf("new config's redirects = %v, want 1", g)
	}
	if g := got2["shortify_edge_cache_requests_total{result=hit,tier=l1}"]; g != 1 {
		t.Errorf("new config's l1 hits = %v, want 1 (the L1 survived the reload)", g)
	}
	if g := got2["shortify_edge_l1_entries{}"]; g != 3 {
		t.Errorf("new config's l1 entries = %v, want a's 3", g)
	}
}

// A collector of another type under one of the edge's names is an error,
// not a panic.
func TestMetricsNameTaken(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shortify_edge_invalidations_total", Help: "not ours"}))
	if _, err := metricsFor(reg); err == nil {
		t.Fatal("metricsFor registered over a foreign collector")
	}
}
