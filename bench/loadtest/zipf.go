package main

import (
	"math"
	"math/rand/v2"
	"sync"
)

// zipf draws ranks in [0, n) with P(k) ∝ 1/(k+1)^s, safe for concurrent
// use: the redirects' popularity, rank 0 the most popular link.
type zipf struct {
	mu sync.Mutex
	z  *rand.Zipf
}

// newZipf returns a sampler over n ranks with exponent s (> 1), seeded
// by seed so that a run can be repeated.
func newZipf(n int, s float64, seed uint64) *zipf {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// rand.NewZipf draws k with P(k) ∝ (v+k)^-s; v = 1 gives 1/(k+1)^s.
	return &zipf{z: rand.NewZipf(r, s, 1, uint64(n-1))}
}

// Next draws a rank.
func (z *zipf) Next() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return int(z.z.Uint64())
}

// zipfShare is the share of draws that land on the top ranks [0, top) of
// n with exponent s: what an L1 holding the top ranks would hit at best.
func zipfShare(top, n int, s float64) float64 {
	return harmonic(min(top, n), s) / harmonic(n, s)
}

// harmonic is the generalised harmonic number H(n, s) = Σ 1/k^s, k=1..n,
// summed from the small terms up, so that float64 keeps their digits.
func harmonic(n int, s float64) float64 {
	var h float64
	for k := n; k >= 1; k-- {
		h += math.Pow(float64(k), -s)
	}
	return h
}
