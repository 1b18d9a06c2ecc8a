package main

import (
	"context"
	"fmt"
	"math"
)

// zipfRows is the expected number of aggregate rows that clicks drawn
// Zipf(s) over links (Go's rand.Zipf with v=1: link i has weight
// (1+i)^-s) fill in one bucket of perBucket clicks, a row per link and
// human/bot (a tenth of clicks are bots, as in the test mix), and the
// expected size of their visitor sketches: the sparse form takes about 4
// bytes a visitor after a 3-byte header, the dense form 12,291 bytes
// (stats/hll/encoding.go), and a link's visitors are taken to be its
// clicks (an upper bound). Clicks of a link in a bucket are Poisson.
// With botShare 0 the rows are the distinct links clicked.
func zipfRows(links int, s, perBucket, botShare float64) (rows, sketchBytes float64) {
	const denseLen = 12_291
	weight := func(i int) float64 { return math.Pow(1+float64(i), -s) }
	// sum adds f over every link: the first million exactly, the tail
	// (smooth) in blocks of a thousand, each counted as its middle link.
	const exact, block = 1_000_000, 1000
	sum := func(f func(w float64) (float64, float64)) (a, b float64) {
		add := func(n int, w float64) {
			x, y := f(w)
			a += float64(n) * x
			b += float64(n) * y
		}
		for i := 0; i < min(links, exact); i++ {
			add(1, weight(i))
		}
		for i := exact; i < links; i += block {
			n := min(block, links-i)
			add(n, weight(i+n/2))
		}
		return a, b
	}
	h, _ := sum(func(w float64) (float64, float64) { return w, 0 })
	return sum(func(w float64) (rows, sketch float64) {
		for _, share := range []float64{1 - botShare, botShare} {
			if share == 0 {
				continue
			}
			clicks := perBucket * share * w / h
			p := 1 - math.Exp(-clicks) // the row exists
			rows += p
			sketch += p * min(3+4*clicks, denseLen)
		}
		return rows, sketch
	})
}

// measureModel prints the aggregate rows a day of clicks writes at the
// design load and at the upper bound over 500 million links, and for the
// stats part's own run (to compare with what it measured).
func measureModel(_ context.Context, o options) error {
	for _, c := range []struct {
		name      string
		links     int
		clicksDay float64
	}{
		{"stats part's run", o.aggLinks, float64(o.events)},
		{"design load", 500_000_000, 100e6},
		{"upper bound", 500_000_000, 8.6e9},
	} {
		const bots = 0.1 // the share of clicks from bots, as in the test mix
		hourly, hourlySketch := zipfRows(c.links, 1.1, c.clicksDay/24, bots)
		daily, dailySketch := zipfRows(c.links, 1.1, c.clicksDay, bots)
		linksDay, _ := zipfRows(c.links, 1.1, c.clicksDay, 0)
		links30s, _ := zipfRows(c.links, 1.1, c.clicksDay/2880, 0)
		fmt.Printf("model %s (%d links, %.3g clicks a day, Zipf 1.1): %.4g hourly rows a day (sketch %.0f B a row), %.4g daily rows a day (sketch %.0f B a row); %.4g links clicked a day, %.4g in 30 s (a click-totals pass)\n",
			c.name, c.links, c.clicksDay, 24*hourly, hourlySketch/hourly, daily, dailySketch/daily, linksDay, links30s)
	}
	return nil
}
