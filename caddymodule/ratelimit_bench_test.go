package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// BenchmarkServeHTTP_L1HitSharedLimit is the hot path with deploy/'s
// `rate_limit ... shared` on a Redis server of its own, for one client
// and for 1000 clients in turn (no request refused): besides ns/op, the
// CPU the whole test process spent per request (cpu-ns/op: the request
// path and any goroutine behind it) and the CPU Redis spent per request
// (redis-cpu-ns/op, from INFO CPU), which the shared limit's round trips
// cost where an L1 hit costs Redis nothing else.
func BenchmarkServeHTTP_L1HitSharedLimit(b *testing.B) {
	for _, clients := range []int{1, 1000} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			srv := testenv.StartRedis(b)
			rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
			b.Cleanup(func() { rc.Close() })
			dsn := sqliteDSN(b)
			c := newCode(b, "bench")
			create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
			h := provision(b, &Handler{Database: dsn, Redis: srv.Addr, RedisPrefix: testenv.UniquePrefix(b),
				RateLimit: &RateLimit{Requests: 1_000_000, Window: caddy.Duration(time.Second), Burst: 100_000_000, Shared: true},
			})
			reqs := make([]*http.Request, clients)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("GET", "/"+c, nil)
				reqs[i].RemoteAddr = "10.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255) + ":1"
			}
			w := &benchWriter{h: make(http.Header)}
			next := new(nextHandler)
			if err := h.ServeHTTP(w, reqs[0], next); err != nil || w.code != 302 {
				b.Fatalf("warm-up: %d %v", w.code, err)
			}
			b.ReportAllocs()
			redisBefore, cpuBefore := redisCPU(b, rc), cpuTime(b, syscall.RUSAGE_SELF)
			i := 0
			for b.Loop() {
				clear(w.h)
				_ = h.ServeHTTP(w, reqs[i], next)
				if i++; i == clients {
					i = 0
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(cpuTime(b, syscall.RUSAGE_SELF)-cpuBefore)/n, "cpu-ns/op")
			b.ReportMetric(float64(redisCPU(b, rc)-redisBefore)/n, "redis-cpu-ns/op")
			// Requests whose count missed Redis (a sync that timed out on a
			// loaded machine): a figure, not a failure.
			b.ReportMetric(float64(h.stats.rateLimitErrors.Load()), "rl-errors")
			if w.code != 302 || h.stats.limited.Load() != 0 {
				b.Fatalf("status %d, %d limited", w.code, h.stats.limited.Load())
			}
		})
	}
}

// redisCPU returns the CPU time the Redis server has used (user and
// system, from INFO CPU).
func redisCPU(b *testing.B, rc *redis.Client) time.Duration {
	b.Helper()
	info, err := rc.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO CPU %s: %v", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
