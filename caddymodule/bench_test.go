package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testenv"
)

// benchWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure the handler and not httptest.ResponseRecorder.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// benchHandler provisions a handler on dsn (plus Redis when redisAddr is
// set) with one link, and returns it with the link's code.
func benchHandler(b *testing.B, dsn, redisAddr string) (*Handler, string) {
	b.Helper()
	c := newCode(b, "bench")
	create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
	h := &Handler{Database: dsn, Redis: redisAddr}
	if redisAddr != "" {
		h.RedisPrefix = testenv.UniquePrefix(b)
	}
	return provision(b, h), c
}

// BenchmarkServeHTTP_L1Hit is the hot path: a warm L1 answers.
func BenchmarkServeHTTP_L1Hit(b *testing.B) {
	h, c := benchHandler(b, sqliteDSN(b), "")
	r := httptest.NewRequest("GET", "/"+c, nil)
	w := &benchWriter{h: make(http.Header)}
	next := new(nextHandler)
	if err := h.ServeHTTP(w, r, next); err != nil || w.code != 302 {
		b.Fatalf("warm-up: %d %v", w.code, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		_ = h.ServeHTTP(w, r, next)
	}
	if w.code != 302 || h.stats.storeHits.Load() != 1 {
		b.Fatalf("status %d, %d store hits; want L1 hits only", w.code, h.stats.storeHits.Load())
	}
}

// BenchmarkServeHTTP_L1HitParallel is the hot path from all cores at once.
func BenchmarkServeHTTP_L1HitParallel(b *testing.B) {
	h, c := benchHandler(b, sqliteDSN(b), "")
	if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 302 {
		b.Fatalf("warm-up: %d", w.Code)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/"+c, nil)
		w := &benchWriter{h: make(http.Header)}
		next := new(nextHandler)
		for pb.Next() {
			clear(w.h)
			_ = h.ServeHTTP(w, r, next)
		}
	})
}

// BenchmarkServeHTTP_L1Miss measures a request whose code is not in L1
// (evicted before each one): answered by the store, or by Redis (L2).
func BenchmarkServeHTTP_L1Miss(b *testing.B) {
	b.Run("store=sqlite", func(b *testing.B) {
		h, c := benchHandler(b, sqliteDSN(b), "")
		benchMiss(b, h, c)
	})
	b.Run("store=postgres", func(b *testing.B) {
		h, c := benchHandler(b, postgresDSN(b), "")
		benchMiss(b, h, c)
	})
	b.Run("l2=redis", func(b *testing.B) {
		h, c := benchHandler(b, sqliteDSN(b), testenv.RedisAddr(b))
		b.Cleanup(func() { h.res.redis.Del(context.Background(), h.l2.Key(c)) })
		if err := l2cache.New(h.res.redis, h.RedisPrefix, 0).Set(b.Context(),
			linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302}); err != nil {
			b.Fatal(err)
		}
		benchMiss(b, h, c)
		if h.stats.storeHits.Load() != 0 {
			b.Fatalf("%d store hits; want Redis to answer", h.stats.storeHits.Load())
		}
	})
}

func benchMiss(b *testing.B, h *Handler, c string) {
	r := httptest.NewRequest("GET", "/"+c, nil)
	w := &benchWriter{h: make(http.Header)}
	next := new(nextHandler)
	b.ReportAllocs()
	for b.Loop() {
		h.l1.Invalidate(c)
		clear(w.h)
		if err := h.ServeHTTP(w, r, next); err != nil || w.code != 302 {
			b.Fatalf("%d %v", w.code, err)
		}
	}
}
