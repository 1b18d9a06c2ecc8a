package flatcache

import (
	"math/rand/v2"
	"testing"
)

func TestSketch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entries int
		adds    map[uint64]int // hash -> increments
		want    map[uint64]uint64
	}{
		{"empty", 64, nil, map[uint64]uint64{1: 0, 42: 0}},
		{"one", 64, map[uint64]int{7: 1}, map[uint64]uint64{7: 1, 8: 0}},
		{"counts", 64, map[uint64]int{7: 3, 1 << 40: 5}, map[uint64]uint64{7: 3, 1 << 40: 5}},
		{"saturates at 15", 64, map[uint64]int{9: 40}, map[uint64]uint64{9: 15}},
		{"tiny shard rounds up to 16", 1, map[uint64]int{3: 2}, map[uint64]uint64{3: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSketch(tc.entries)
			s.reset = 1 << 30 // no halving here
			for h, n := range tc.adds {
				for range n {
					s.increment(h)
				}
			}
			for h, want := range tc.want {
				if got := s.estimate(h); got != want {
					t.Errorf("estimate(%#x) = %d, want %d", h, got, want)
				}
			}
		})
	}
}

// The sketch forgets: after reset increments every counter is halved.
func TestSketchHalves(t *testing.T) {
	t.Parallel()
	s := newSketch(16) // reset: 160
	for range 12 {
		s.increment(1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for s.adds != 0 && s.estimate(1) == 12 {
		s.increment(r.Uint64() | 1<<63)
	}
	if got := s.estimate(1); got != 6 && got != 7 { // 6, or 7 if others collided with it
		t.Fatalf("after a halving estimate = %d, want 6 or 7", got)
	}
	if s.adds >= s.reset {
		t.Fatalf("adds %d not reduced (reset %d)", s.adds, s.reset)
	}
}

// A count-min sketch never underestimates, and with as many counters a
// row as keys it rarely overestimates by much.
func TestSketchAccuracy(t *testing.T) {
	t.Parallel()
	const keys = 4096
	s := newSketch(keys)
	s.reset = 1 << 30
	r := rand.New(rand.NewPCG(3, 4))
	hashes := make([]uint64, keys)
	counts := make([]uint64, keys)
	for i := range hashes {
		hashes[i] = r.Uint64()
	}
	for range 4 * keys {
		i := r.IntN(keys)
		s.increment(hashes[i])
		counts[i] = min(counts[i]+1, 15)
	}
	off := 0
	for i, h := range hashes {
		got := s.estimate(h)
		if got < counts[i] {
			t.Fatalf("key %d: estimate %d below its count %d", i, got, counts[i])
		}
		if got > counts[i]+1 {
			off++
		}
	}
	if off > keys/20 {
		t.Fatalf("%d of %d estimates more than 1 over the count", off, keys)
	}
}
