package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/promtest"
)

// The fills of A's L1 (-fill):
//
//   - fillHTTP: one GET of every code through the edge (warm in load.go):
//     each is an L1 miss that Redis answers. About 3,000 to 14,000 codes
//     a second on this two-core machine, most of an hour for ten million.
//   - fillStart: the edge's own warm start (caddymodule/warm.go): the
//     harness writes the codes as the hot list the edges publish to Redis
//     (every code, hottest first, in the current minute's sorted set) and
//     starts A with warm_count the number of links; A reads the list and
//     loads the links from the L2 in pipelined batches before it reports
//     ready. It runs against a redis-server of the harness's own, so that
//     the shared Redis never holds ten million keys.
const (
	fillHTTP  = "http"
	fillStart = "start"
)

// warmStartTimeout is A's warm_timeout with -fill start: long enough for
// ten million links on a busy machine, and the bound of the wait for it.
const warmStartTimeout = time.Hour

// warmStartReadTimeout is the read timeout of A's Redis client with
// -fill start (a redis:// URL's read_timeout, which the edge honours):
// the hot list of ten million codes is one ZREVRANGE reply of about
// 300 MB, which the edge's default of 100 ms (l2cache.CacheTimeouts)
// cannot read. The L1 hits that wrk measures never touch Redis.
const warmStartReadTimeout = 2 * time.Minute

// readyPath is where A answers its readiness (shortify_edge_ready: 200
// once its warm start is over).
const readyPath = "/-/bench-ready"

// startRedis runs redis-server on a free loopback port, with nothing
// persisted (procs.StartRedis, as the tests' servers), and returns once it
// answers PING. Kill ends it.
func startRedis(ctx context.Context, dir string) (*procs.RedisServer, error) {
	if _, err := procs.LookRedis("redis-server"); err != nil {
		return nil, fmt.Errorf("-fill %s: %w", fillStart, err)
	}
	port, err := procs.FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "redis")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	s, err := procs.StartRedis(ctx, data, port, false)
	if err != nil {
		return nil, fmt.Errorf("-fill %s: %w", fillStart, err)
	}
	return s, nil
}

// warmStartRedis is A's redis option with -fill start: a redis:// URL
// with a read timeout that fits the hot list's one reply.
func warmStartRedis(addr string) string {
	return "redis://" + addr + "?read_timeout=" + warmStartReadTimeout.String()
}

// waitWarmStart polls A's readiness until its warm start is over, then
// checks from its metrics that it put all n links in the L1: from the
// L2, none from the store. It returns the edge's own figure for how long
// the warm start took (shortify_edge_warm_duration_seconds).
func waitWarmStart(ctx context.Context, in *instance, n int) (time.Duration, error) {
	client, closeIdle := newClient(1)
	defer closeIdle()
	deadline := time.Now().Add(warmStartTimeout + time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+in.addr+readyPath, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: not ready within %s (last: %v)", in.name, warmStartTimeout, err)
		}
		select {
		case <-in.exited:
			return 0, fmt.Errorf("%s exited during its warm start:\n%s", in.name, tail(in.logs, 20))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
	m, err := metrics(ctx, in.addr, `shortify_edge_warm_entries_total{source="l2"}`,
		`shortify_edge_warm_entries_total{source="store"}`, "shortify_edge_warm_duration_seconds")
	if err != nil {
		return 0, err
	}
	fromL2, fromStore, secs := m[0], m[1], m[2]
	if int(fromL2+fromStore) != n {
		return 0, fmt.Errorf("%s: the warm start put %.0f links in the L1 (%.0f from Redis, %.0f from the store), want %d:\n%s",
			in.name, fromL2+fromStore, fromL2, fromStore, n, tail(in.logs, 10))
	}
	if fromStore != 0 {
		return 0, fmt.Errorf("%s: the warm start read %.0f links from the store, want all %d from the prefilled Redis", in.name, fromStore, n)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// l1Misses is A's count of L1 misses (shortify_edge_cache_requests_total).
const l1Misses = `shortify_edge_cache_requests_total{result="miss",tier="l1"}`

// checkHits GETs a sample of up to sample codes spread over all of them,
// checks every answer, and checks that none was an L1 miss: the warm
// start's L1 holds them.
func checkHits(ctx context.Context, in *instance, links linkSet, codes []string, sample int) (int, error) {
	before, err := metrics(ctx, in.addr, l1Misses)
	if err != nil {
		return 0, err
	}
	client, closeIdle := newClient(1)
	defer closeIdle()
	step := max(len(codes)/sample, 1)
	k := 0
	for i := 0; i < len(codes); i += step {
		if _, err := check(ctx, client, in.addr, links.host(i), codes[i], links.urls(codes[i])); err != nil {
			return 0, err
		}
		k++
	}
	after, err := metrics(ctx, in.addr, l1Misses)
	if err != nil {
		return 0, err
	}
	if d := after[0] - before[0]; d != 0 {
		return 0, fmt.Errorf("%s: %.0f of %d sampled codes were L1 misses after the warm start, want none", in.name, d, k)
	}
	return k, nil
}

// metrics reads the values of the named series (a metric's name, with
// its labels as Prometheus's text format writes them) from an instance's
// metricsPath; a series that is absent is an error.
func metrics(ctx context.Context, addr string, names ...string) ([]float64, error) {
	client, closeIdle := newClient(1)
	defer closeIdle()
	s, err := promtest.Get(ctx, client, "http://"+addr+metricsPath, "")
	if err != nil {
		return nil, err
	}
	return s.Values(names...)
}
