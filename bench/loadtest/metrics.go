package main

import "github.com/shortify/shortify/internal/testkit/promtest"

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
func hitsOf(c promtest.Page) tierHits {
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
