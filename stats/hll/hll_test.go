package hll

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// relErr is the estimate's relative error against the exact count.
func relErr(got uint64, want int) float64 {
	if want == 0 {
		return float64(got)
	}
	return math.Abs(float64(got)-float64(want)) / float64(want)
}

// TestEstimateWithinBound adds n distinct random hashes (and repeats) and
// checks the estimate against the exact count: within 3.5 standard errors
// for every n, and near exact for small n, where linear counting rules.
func TestEstimateWithinBound(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 5, 10, 50, 100, 500, 1000, 3000, 5000, 10_000, 30_000, 100_000, 300_000, 1_000_000} {
		s := New()
		seen := make(map[uint64]struct{}, n)
		for len(seen) < n {
			h := rng.Uint64()
			seen[h] = struct{}{}
			s.Add(h)
			if rng.IntN(4) == 0 { // repeats never count twice
				s.Add(h)
			}
		}
		got := s.Estimate()
		bound := 3.5 * StdError
		if n <= 1000 {
			bound = 0.01 // linear-counting range: a few in a thousand
		}
		if e := relErr(got, n); n > 0 && e > bound || n == 0 && got != 0 {
			t.Errorf("n=%d: estimate %d, relative error %.4f > %.4f", n, got, e, bound)
		}
		if n <= 100 && (got > uint64(n) || got+1 < uint64(n)) {
			t.Errorf("n=%d: estimate %d, want at most one register collision", n, got)
		}
	}
}

// TestMeanErrorAcrossSeeds checks that the estimator is unbiased and that
// its spread matches the documented standard error.
func TestMeanErrorAcrossSeeds(t *testing.T) {
	t.Parallel()
	const n, runs = 50_000, 40
	var sum, sumSq float64
	for seed := range uint64(runs) {
		rng := rand.New(rand.NewPCG(seed, 99))
		s := New()
		for range n {
			s.Add(rng.Uint64())
		}
		e := (float64(s.Estimate()) - n) / n
		sum += e
		sumSq += e * e
	}
	mean := sum / runs
	sd := math.Sqrt(sumSq/runs - mean*mean)
	if math.Abs(mean) > 0.005 {
		t.Errorf("mean relative error %.4f: biased", mean)
	}
	if sd > 1.5*StdError {
		t.Errorf("standard error %.4f, documented %.4f", sd, StdError)
	}
}

func TestMergeEqualsUnion(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	// Sizes that cover sparse+sparse, sparse+dense, dense+sparse and
	// dense+dense merges.
	for _, sizes := range [][2]int{{10, 20}, {3000, 10}, {10, 6000}, {20000, 30000}, {0, 100}, {100, 0}} {
		a, b, union := New(), New(), New()
		for range sizes[0] {
			h := rng.Uint64()
			a.Add(h)
			union.Add(h)
		}
		for range sizes[1] {
			h := rng.Uint64()
			b.Add(h)
			union.Add(h)
		}
		shared := rng.Uint64() // in both
		a.Add(shared)
		b.Add(shared)
		union.Add(shared)
		bBefore, _ := b.MarshalBinary()
		a.Merge(b)
		if got, want := a.Estimate(), union.Estimate(); got != want {
			t.Errorf("sizes %v: merged estimate %d, union %d", sizes, got, want)
		}
		if bAfter, _ := b.MarshalBinary(); !bytes.Equal(bBefore, bAfter) {
			t.Errorf("sizes %v: Merge changed its argument", sizes)
		}
	}
	s := New()
	s.Merge(nil)
	if !s.Empty() || s.Estimate() != 0 {
		t.Error("merging nil changed an empty sketch")
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 300, sparseMax, 2 * sparseMax, 200_000} {
		s := New()
		for range n {
			s.Add(rng.Uint64())
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Sketch
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if back.Estimate() != s.Estimate() {
			t.Errorf("n=%d: estimate %d after round trip, %d before", n, back.Estimate(), s.Estimate())
		}
		b2, _ := back.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Errorf("n=%d: encoding not stable", n)
		}
		if n == 0 && len(b) != 4 {
			t.Errorf("empty sketch is %d bytes, want 4", len(b))
		}
		if n == 1 && len(b) > 8 {
			t.Errorf("one-visitor sketch is %d bytes", len(b))
		}
		if n >= 2*sparseMax && len(b) != headerLen+denseLen {
			t.Errorf("n=%d: %d bytes, want dense %d", n, len(b), headerLen+denseLen)
		}
	}
}

func TestUnmarshalRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := New()
	s.Add(1)
	s.Add(2)
	good, _ := s.MarshalBinary()
	dense := New()
	for i := range uint64(sparseMax + 1) {
		dense.Add(i)
	}
	goodDense, _ := dense.MarshalBinary()
	badRank := bytes.Clone(goodDense)
	badRank[headerLen] = 0xff // first register 63 > maxRank
	for name, b := range map[string][]byte{
		"nil":           nil,
		"short":         {1, 14},
		"version":       {2, 14, 0, 0},
		"precision":     {1, 12, 0, 0},
		"form":          {1, 14, 9, 0},
		"trailing":      append(bytes.Clone(good), 0),
		"truncated":     good[:len(good)-1],
		"zero rank":     {1, 14, 0, 1, 0x00, 0x01},
		"rank too high": {1, 14, 0, 1, 60},
		"repeated reg":  {1, 14, 0, 2, 0x81, 0x02, 0x01},
		"dense short":   goodDense[:len(goodDense)-1],
		"dense rank":    badRank,
		"huge count":    {1, 14, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		var got Sketch
		if err := got.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, n := range []int{0, 1, 3, 40} {
		s := New()
		for i := range uint64(n) {
			s.Add(i)
		}
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 14, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sketch
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		// Anything accepted re-encodes to the same bytes and can be used.
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, b)
		}
		s.Add(42)
		s.Merge(s.Clone())
		_ = s.Estimate()
	})
}

func BenchmarkAdd(b *testing.B) {
	s := New()
	var h uint64
	for b.Loop() {
		h++
		s.Add(h)
	}
}

func BenchmarkMarshalSparse(b *testing.B) {
	s := New()
	for i := range uint64(20) {
		s.Add(i)
	}
	buf := make([]byte, 0, 128)
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
}
