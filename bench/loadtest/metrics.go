package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// counters are Prometheus samples by their full name with labels, as
// the text format writes them: shortify_edge_cache_requests_total{result="hit",tier="l1"}.
type counters map[string]float64

// scrape reads a /metrics page (the text format) and keeps the samples
// whose names start with prefix.
func scrape(ctx context.Context, url, prefix string) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body, prefix)
}

// parseMetrics parses the text format's sample lines; comments and other
// names are skipped.
func parseMetrics(r io.Reader, prefix string) (counters, error) {
	out := counters{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		out[line[:i]] += v
	}
	return out, sc.Err()
}

// add sums other into c (two edges' counters).
func (c counters) add(other counters) {
	for k, v := range other {
		c[k] += v
	}
}

// sub is c minus an earlier scrape.
func (c counters) sub(before counters) counters {
	out := counters{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// cacheSample is the name of an edge's lookups in one tier with one result.
func cacheSample(tier, result string) string {
	return `shortify_edge_cache_requests_total{result="` + result + `",tier="` + tier + `"}`
}

// tierHits are the hits and lookups of the edges' three tiers over a
// window: L1 (in process), L2 (Redis), L3 (the link store, PostgreSQL).
type tierHits struct {
	L1, L2, L3 struct{ Hits, Lookups float64 }
}

// hitsOf reads the tiers' figures from the edges' counter deltas.
func hitsOf(c counters) tierHits {
	var t tierHits
	for _, x := range []struct {
		tier string
		dst  *struct{ Hits, Lookups float64 }
	}{{"l1", &t.L1}, {"l2", &t.L2}, {"store", &t.L3}} {
		x.dst.Hits = c[cacheSample(x.tier, "hit")]
		x.dst.Lookups = x.dst.Hits + c[cacheSample(x.tier, "miss")]
	}
	return t
}

// pct is part of whole in percent; 0 of nothing is 0.
func pct(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}

// CacheHitPct is the share of lookups the caches answered (L1 or L2),
// of all that reached the edges' L1: the plan's cache hit rate.
func (t tierHits) CacheHitPct() float64 { return pct(t.L1.Hits+t.L2.Hits, t.L1.Lookups) }
