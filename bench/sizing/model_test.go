package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestZipfRowsMatchesDraws: the model's expected distinct links, and
// link-hours with a bot share, agree with counting actual draws of Go's
// Zipf within 2%.
func TestZipfRowsMatchesDraws(t *testing.T) {
	const links, clicks, hours = 20_000, 200_000, 24
	rng := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rng, 1.1, 1, links-1)
	type key struct {
		link uint64
		hour int
		bot  bool
	}
	distinct, rows := map[uint64]bool{}, map[key]bool{}
	for range clicks {
		l := z.Uint64()
		distinct[l] = true
		rows[key{l, rng.IntN(hours), rng.IntN(10) == 0}] = true
	}
	for _, c := range []struct {
		what      string
		perBucket float64
		bots      float64
		scale     float64
		drawn     int
	}{
		{"links clicked", clicks, 0, 1, len(distinct)},
		{"hourly rows with a tenth of bots", clicks / hours, 0.1, hours, len(rows)},
	} {
		rows, _ := zipfRows(links, 1.1, c.perBucket, c.bots)
		if got := rows * c.scale; math.Abs(got-float64(c.drawn)) > 0.02*float64(c.drawn) {
			t.Errorf("%s: the model expects %.0f, the draws gave %d", c.what, got, c.drawn)
		}
	}
}
