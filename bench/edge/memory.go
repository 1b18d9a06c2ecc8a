package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// metricsPath is where instance A answers its Prometheus metrics (Caddy's
// metrics handler, in front of shortify_edge), for its heap figures.
const metricsPath = "/-/bench-metrics"

// withMetrics puts Caddy's metrics handler on metricsPath in front of a
// site body; every other path goes to the body as before.
func withMetrics(body string) string {
	return "\troute {\n\t\tmetrics " + metricsPath + "\n" + body + "\n\t}"
}

// heapGoal reads an instance's go_memstats_next_gc_bytes: the heap size
// at which its next collection starts, (1 + GOGC/100) times the heap
// that its last collection left live. Unlike the heap in use, it counts
// no garbage, so it is what a running instance says about its live
// heap without being made to collect.
func heapGoal(ctx context.Context, addr string) (float64, error) {
	client, closeIdle := newClient(1)
	defer closeIdle()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+metricsPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics of %s: %s", addr, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_next_gc_bytes "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", addr, err)
	}
	return 0, fmt.Errorf("metrics of %s: no go_memstats_next_gc_bytes", addr)
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
// over 1 + GOGC/100) after the wrk runs minus before the warm-up, over
// the links, and that minus the mean URL length. An estimate: the live
// heap is the one the last collection saw, and everything else the
// instance holds counts too (the goal: 150 bytes beyond the URL;
// go test -bench MemoryPerEntry ./caddymodule/internal/flatcache is the
// exact figure).
func memoryLine(n int, before, after, gogc, urlLen float64) string {
	live := func(goal float64) float64 { return goal / (1 + gogc/100) }
	per := (live(after) - live(before)) / float64(n)
	return fmt.Sprintf("memory: A's live heap %.0f MB before the warm-up, %.0f MB after the runs: about %.0f bytes per cached link, %.0f beyond its %.0f-byte URL (goal <= 150; from go_memstats_next_gc_bytes / (1 + GOGC/100))",
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
