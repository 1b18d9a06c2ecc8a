package caddymodule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
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
	benchHits(b, h, httptest.NewRequest("GET", "/"+c, nil))
}

// BenchmarkServeHTTP_L1HitNoLimits is the hot path with miss_limit off
// (and no rate_limit), as the default was before the miss limit was on
// by default: the difference to BenchmarkServeHTTP_L1Hit is the default
// miss limit's cost on a hit (the client's address and one Peek).
func BenchmarkServeHTTP_L1HitNoLimits(b *testing.B) {
	dsn := sqliteDSN(b)
	c := newCode(b, "bench")
	create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/bench"})
	h := provision(b, &Handler{Database: dsn, MissLimit: &RateLimit{Off: true}})
	benchHits(b, h, httptest.NewRequest("GET", "/"+c, nil))
}

// benchHits warms the L1 with r's code, then serves r in a loop; every
// answer must be a redirect from L1.
func benchHits(b *testing.B, h *Handler, r *http.Request) {
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
	if w.code != 302 || h.stats.storeHits.Load() != 1 || h.stats.limited.Load() != 0 {
		b.Fatalf("status %d, %d store hits, %d limited; want L1 hits only", w.code, h.stats.storeHits.Load(), h.stats.limited.Load())
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
		b.Cleanup(func() { h.res.redis.Del(context.Background(), h.l2.Key("", c)) })
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
		h.l1.Delete(c)
		clear(w.h)
		if err := h.ServeHTTP(w, r, next); err != nil || w.code != 302 {
			b.Fatalf("%d %v", w.code, err)
		}
	}
}

// BenchmarkServeHTTP_L1HitFullCache reads random codes from an L1 holding
// a million links, as a busy edge does, and reports the latency of one
// ServeHTTP at the 50th and 99th percentiles (p99 includes the garbage
// collector's work, which grows with the objects and pointers the cache
// holds). Besides, for the full cache: the heap objects and bytes per
// entry, and gc-cpu-ms, the CPU time of one full collection (the median
// of three; CPU time rather than wall time, so that other load on the
// machine moves it less).
//
// Cases: ttl=fixed (max_ttl = cache_ttl) skips the lifetime extension on
// reads. events=on emits a click event per request to an in-process kfake
// broker. (docs/decisions/0001-pointer-free-l1.md has the figures of the
// otter L1 this replaced.)
func BenchmarkServeHTTP_L1HitFullCache(b *testing.B) {
	const links = 1_000_000
	for _, bc := range []struct {
		name   string
		maxTTL time.Duration
		events bool
	}{
		{"ttl=adaptive/events=off", 0, false},
		{"ttl=fixed/events=off", time.Minute, false},
		{"ttl=adaptive/events=on", 0, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := &Handler{Database: sqliteDSN(b), CacheSize: links, CacheTTL: caddy.Duration(time.Minute), MaxTTL: caddy.Duration(bc.maxTTL)}
			if bc.events {
				eventsHandler(h, kafkatest.StartBroker(b, 2, testClicksTopic, testLinksTopic))
			}
			provision(b, h)
			born := bornAt(time.Now().UnixNano())
			codes := make([]string, links)
			for i := range codes {
				codes[i] = "b" + strconv.Itoa(1_000_000+i)
			}
			before := heapNow()
			for _, c := range codes {
				h.l1.Set(c, entry{state: stateFound, born: born}, "https://example.com/target/"+c)
			}
			if n := h.l1.Len(); n < links*9/10 {
				b.Fatalf("L1 holds %d links, want about %d", n, links)
			}
			after := heapNow()
			gc := gcCPU(b)

			reqs := make([]*http.Request, 1<<16)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("GET", "/"+codes[rand.IntN(links)], nil)
				reqs[i].Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
			}
			w := &benchWriter{h: make(http.Header)}
			next := new(nextHandler)
			lat := make([]time.Duration, 1<<20)
			n := 0
			b.ReportAllocs()
			cpu := cpuTime(b, syscall.RUSAGE_SELF)
			for b.Loop() {
				r := reqs[n&(len(reqs)-1)]
				clear(w.h)
				start := time.Now()
				_ = h.ServeHTTP(w, r, next)
				lat[n&(len(lat)-1)] = time.Since(start)
				n++
			}
			b.ReportMetric(float64(cpuTime(b, syscall.RUSAGE_SELF)-cpu)/float64(b.N), "cpu-ns/op")
			// Reported after the loop, which would reset them.
			b.ReportMetric(float64(after.objects-before.objects)/links, "objs/entry")
			b.ReportMetric(float64(after.bytes-before.bytes)/links, "heap-B/entry")
			b.ReportMetric(gc.Seconds()*1e3, "gc-cpu-ms")
			lat = lat[:min(n, len(lat))]
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			if h.stats.storeHits.Load()+h.stats.storeMisses.Load() > uint64(links/100) {
				b.Fatalf("%d store lookups: the L1 did not hold the links", h.stats.storeHits.Load()+h.stats.storeMisses.Load())
			}
			runtime.KeepAlive(codes)
		})
	}
}

// heapUse is the live heap after a full collection.
type heapUse struct{ objects, bytes uint64 }

func heapNow() heapUse {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return heapUse{m.HeapObjects, m.HeapAlloc}
}

// gcCPU returns the process CPU time of one full collection, the median
// of three.
func gcCPU(tb testing.TB) time.Duration {
	var d [3]time.Duration
	for i := range d {
		start := cpuTime(tb, syscall.RUSAGE_SELF)
		runtime.GC()
		d[i] = cpuTime(tb, syscall.RUSAGE_SELF) - start
	}
	slices.Sort(d[:])
	return d[1]
}

// BenchmarkServeHTTP_L1HitRateLimited is the hot path with both limits on
// (a client far below them): the client address, its key and one check
// of each limiter come on top of an L1 hit.
func BenchmarkServeHTTP_L1HitRateLimited(b *testing.B) {
	dsn := sqliteDSN(b)
	c := newCode(b, "bench")
	create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
	h := provision(b, &Handler{Database: dsn,
		// The highest rate (a million a second) and a burst far above what
		// one client sends here in a run (~2M/s): every request passes the
		// limiter, none is refused however long -benchtime is.
		RateLimit:      &RateLimit{Requests: 1_000_000, Window: caddy.Duration(time.Second), Burst: 100_000_000},
		MissLimit:      &RateLimit{Requests: 10, Window: caddy.Duration(time.Minute)},
		TrustedProxies: []string{"10.0.0.0/8"},
	})
	r := httptest.NewRequest("GET", "/"+c, nil)
	r.RemoteAddr = "10.1.2.3:4567"
	r.Header.Set("X-Forwarded-For", "198.51.100.23")
	benchHits(b, h, r)
}

// BenchmarkServeHTTP_L1HitDomains is the hot path with custom domains:
// the instance's hosts set and 1000 verified domains in the registry, a
// hit on the own host (L1 key: the code) and on a custom domain (L1 key:
// domain/code).
func BenchmarkServeHTTP_L1HitDomains(b *testing.B) {
	dsn := sqliteDSN(b)
	m, seed := mirrorOf(b, dsn)
	own, promo := newCode(b, "own"), newCode(b, "promo")
	create(b, seed,
		linkstore.Link{Code: own, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302},
		linkstore.Link{Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
	domains := []domainmirror.Entry{{Domain: acmeHost, WorkspaceID: 2, Verified: true}}
	for i := range 999 {
		domains = append(domains, domainmirror.Entry{Domain: fmt.Sprintf("go%d.example", i), WorkspaceID: 2, Verified: true})
	}
	for _, c := range []struct{ name, host, code string }{
		{"host=own", ownHost, own},
		{"host=custom", acmeHost, promo},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := provision(b, &Handler{Database: dsn, Hosts: []string{ownHost}})
			setDomains(b, h, m, domains...)
			benchHits(b, h, httptest.NewRequest("GET", "http://"+c.host+"/"+c.code, nil))
		})
	}
}

// BenchmarkResolveHost is what the host costs every request before the
// L1: normalisation and the registry lookup (1000 verified domains), for
// the own host with hosts, a custom domain, and a host needing the slow
// normalisation (upper case and a port).
func BenchmarkResolveHost(b *testing.B) {
	entries := []domainmirror.Entry{{Domain: acmeHost, Verified: true}}
	for i := range 999 {
		entries = append(entries, domainmirror.Entry{Domain: fmt.Sprintf("go%d.example", i), Verified: true})
	}
	reg := domainmirror.NewRegistry(domainmirror.Snapshot{Generation: 1, Entries: entries})
	own, err := ownHostSet([]string{ownHost})
	if err != nil {
		b.Fatal(err)
	}
	for _, host := range []string{ownHost, acmeHost, "GO.ACME.EXAMPLE:443"} {
		b.Run(host, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := resolveIn(reg, own, host); !ok {
					b.Fatal("not resolved")
				}
			}
		})
	}
}
