package main

import (
	"math"
	"testing"
)

// The sampler draws ranks in range with the Zipf law's frequencies: rank
// k about (k+1)^-s of rank 0's, and the top ranks' share as zipfShare
// computes it.
func TestZipfSampler(t *testing.T) {
	tests := []struct {
		n int
		s float64
	}{
		{1000, 1.1},
		{100_000, 1.1},
		{100_000, 1.5},
	}
	for _, tt := range tests {
		const draws = 400_000
		z := newZipf(tt.n, tt.s, 42)
		counts := make([]int, tt.n)
		for range draws {
			k := z.Next()
			if k < 0 || k >= tt.n {
				t.Fatalf("n=%d: rank %d out of range", tt.n, k)
			}
			counts[k]++
		}
		// Rank 0's share is 1/H(n, s).
		want0 := draws / harmonic(tt.n, tt.s)
		if got := float64(counts[0]); math.Abs(got-want0) > 0.03*want0 {
			t.Errorf("n=%d s=%v: rank 0 drawn %v times, want about %.0f", tt.n, tt.s, got, want0)
		}
		// Rank 1 against rank 0: 2^-s.
		if got, want := float64(counts[1])/float64(counts[0]), math.Pow(2, -tt.s); math.Abs(got-want) > 0.05*want {
			t.Errorf("n=%d s=%v: rank 1 / rank 0 = %.3f, want %.3f", tt.n, tt.s, got, want)
		}
		// The top tenth's share.
		top, hits := tt.n/10, 0
		for _, c := range counts[:top] {
			hits += c
		}
		if got, want := float64(hits)/draws, zipfShare(top, tt.n, tt.s); math.Abs(got-want) > 0.01 {
			t.Errorf("n=%d s=%v: top tenth drew %.4f, zipfShare says %.4f", tt.n, tt.s, got, want)
		}
	}
}

func TestZipfShare(t *testing.T) {
	tests := []struct {
		top, n int
		s      float64
		want   float64
	}{
		{1, 1, 1.1, 1},
		{10, 10, 1.1, 1},
		{20, 10, 1.1, 1},
		{0, 10, 1.1, 0},
		{1, 2, 1, 1 / 1.5},
	}
	for _, tt := range tests {
		if got := zipfShare(tt.top, tt.n, tt.s); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("zipfShare(%d, %d, %v) = %v, want %v", tt.top, tt.n, tt.s, got, tt.want)
		}
	}
}
