package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The hot path's share of warm start: with Redis and warm start on, every
// redirect draws a random number and one in 64 is offered to the hot
// list (hot.go). Each benchmark has a twin with `warm off` on the same
// Redis, so that the difference is read within one run.

// BenchmarkServeHTTP_L1HitSampled is an L1 hit on an edge with Redis and
// warm start on (the production shape).
func BenchmarkServeHTTP_L1HitSampled(b *testing.B) {
	h, r := warmBenchHandler(b, false)
	benchHits(b, h, r)
}

// BenchmarkServeHTTP_L1HitWarmOff is BenchmarkServeHTTP_L1HitSampled's
// edge with warm off: no sampling.
func BenchmarkServeHTTP_L1HitWarmOff(b *testing.B) {
	h, r := warmBenchHandler(b, true)
	benchHits(b, h, r)
}

// BenchmarkServeHTTP_L1HitSampledParallel is the sampled hot path from
// all cores at once (the sampled requests share one channel).
func BenchmarkServeHTTP_L1HitSampledParallel(b *testing.B) {
	h, r := warmBenchHandler(b, false)
	benchHitsParallel(b, h, r)
}

// BenchmarkServeHTTP_L1HitWarmOffParallel is its twin with warm off.
func BenchmarkServeHTTP_L1HitWarmOffParallel(b *testing.B) {
	h, r := warmBenchHandler(b, true)
	benchHitsParallel(b, h, r)
}

func warmBenchHandler(b *testing.B, off bool) (*Handler, *http.Request) {
	b.Helper()
	dsn := sqliteDSN(b)
	c := newCode(b, "bench")
	create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
	h := provision(b, &Handler{Database: dsn, Redis: testenv.RedisAddr(b), RedisPrefix: testenv.UniquePrefix(b),
		Warm: WarmStart{Off: off}})
	if (h.hot == nil) != off {
		b.Fatalf("warm off %v, sampling %v", off, h.hot != nil)
	}
	return h, httptest.NewRequest("GET", "/"+c, nil)
}

func benchHitsParallel(b *testing.B, h *Handler, r *http.Request) {
	if w, _ := serve(h, "GET", r.URL.Path, nil); w.Code != 302 {
		b.Fatalf("warm-up: %d", w.Code)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := r.Clone(r.Context())
		w := &benchWriter{h: make(http.Header)}
		next := new(nextHandler)
		for pb.Next() {
			clear(w.h)
			_ = h.ServeHTTP(w, r, next)
		}
	})
}
