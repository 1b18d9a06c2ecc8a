package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

// metricsPath is where instance A answers its Prometheus metrics (Caddy's
// metrics handler, in front of shortify_edge), for its heap figures.
const metricsPath = "/-/bench-metrics"

// withMetrics puts Caddy's metrics handler on metricsPath and the edge's
// readiness (shortify_edge_ready) on readyPath in front of a site body;
// every other path goes to the body as before.
func withMetrics(body string) string {
	return "\troute {\n\t\tmetrics " + metricsPath + "\n\t\tshortify_edge_ready " + readyPath + "\n" + body + "\n\t}"
}

// heapGoal reads an instance's go_memstats_next_gc_bytes: the heap size
// at which its next collection starts, (1 + GOGC/100) times the heap
// that its last collection left live. Unlike the heap in use, it counts
// no garbage. collect before it makes the last collection a fresh one.
func heapGoal(ctx context.Context, addr string) (float64, error) {
	v, err := metrics(ctx, addr, "go_memstats_next_gc_bytes")
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// collect makes an instance run a full garbage collection through its
// admin endpoint (net/http/pprof's heap profile with gc=1 calls
// runtime.GC), so that the heap goal read next is that of the heap live
// now: without it, the last collection may be one from the middle of the
// warm-up, when the warm-up's own data was still live, because the wrk
// runs allocate too little to start another one at a heap of gigabytes.
func collect(ctx context.Context, in *instance) error {
	if in.admin == "" {
		return fmt.Errorf("%s has no admin endpoint to collect through", in.name)
	}
	client, closeIdle := newClient(1)
	defer closeIdle()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.admin+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("collect garbage in %s: %w", in.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collect garbage in %s: %s", in.name, resp.Status)
	}
	return nil
}

// liveHeap is an instance's heap goal right after a full collection.
func liveHeap(ctx context.Context, in *instance) (float64, error) {
	if err := collect(ctx, in); err != nil {
		return 0, err
	}
	return heapGoal(ctx, in.addr)
}

// gogcPercent is the GOGC the instances run with: -gogc, else this
// process's GOGC, else Go's default; false when collection is off.
func gogcPercent(flag string) (float64, bool) {
	v := flag
	if v == "" {
		v = os.Getenv("GOGC")
	}
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, false
	}
	return float64(n), true
}

// memoryLine says what the L1 costs per link: the live heap (heap goal
// over 1 + GOGC/100, each read right after a full collection) after the
// wrk runs minus before the warm-up (with -fill start: of a twin of A
// whose hot list is empty), over
// the links, and that minus the mean URL length. An estimate:
// everything else the instance holds counts too (the goal: 150 bytes beyond the URL;
// go test -bench MemoryPerEntry ./caddymodule/internal/flatcache is the
// exact figure).
func memoryLine(n int, before, after, gogc, urlLen float64) string {
	live := func(goal float64) float64 { return goal / (1 + gogc/100) }
	per := (live(after) - live(before)) / float64(n)
	return fmt.Sprintf("memory: A's live heap %.0f MB before the warm-up, %.0f MB after the runs: about %.0f bytes per cached link, %.0f beyond its %.0f-byte URL (goal <= 150; from go_memstats_next_gc_bytes / (1 + GOGC/100) after a forced collection)",
		live(before)/1e6, live(after)/1e6, per, per-urlLen, urlLen)
}

// meanURLLen is the mean length of the links' URLs, over a sample.
func meanURLLen(links linkSet, codes []string) float64 {
	step := max(len(codes)/1000, 1)
	total, k := 0, 0
	for i := 0; i < len(codes); i += step {
		total += len(links.link(i, codes[i]).URL)
		k++
	}
	return float64(total) / float64(max(k, 1))
}
