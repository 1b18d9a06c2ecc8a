package aggregate_test

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shortify/shortify/stats/aggregate"
)

// randomDims makes counts over a small alphabet, so that two of them
// share values.
func randomDims(rng *rand.Rand) *aggregate.DimCounts {
	var d aggregate.DimCounts
	for _, dim := range aggregate.Dimensions {
		m := map[string]int64{}
		for range rng.IntN(6) {
			m[string([]byte{byte('a' + rng.IntN(5)), byte('a' + rng.IntN(3))})[:1+rng.IntN(2)]] += 1 + rng.Int64N(1000)
		}
		for _, v := range slices.Sorted(maps.Keys(m)) {
			d[dim] = append(d[dim], aggregate.ValueCount{Value: v, Clicks: m[v]})
		}
	}
	return &d
}

// flat lists counts as dimension/value → clicks.
func flat(d *aggregate.DimCounts) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for _, dim := range aggregate.Dimensions {
		for _, v := range d[dim] {
			out[[2]string{dim.String(), v.Value}] += v.Clicks
		}
	}
	return out
}

// TestDimsRoundTripAndMerge: the encoding decodes to what was encoded,
// and MergeBinary (the write path's merge with a stored row), Merge and a
// sum of the flat counts agree.
func TestDimsRoundTripAndMerge(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		a, b := randomDims(rng), randomDims(rng)
		enc := a.AppendBinary(nil)
		var got aggregate.DimCounts
		if err := got.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(flat(&got), flat(a)) || !bytes.Equal(got.AppendBinary(nil), enc) {
			t.Fatalf("round trip: %v, want %v", got, *a)
		}
		want := flat(a)
		for k, n := range flat(b) {
			want[k] += n
		}
		merged, err := b.MergeBinary(nil, enc)
		if err != nil {
			t.Fatal(err)
		}
		var m aggregate.DimCounts
		if err := m.UnmarshalBinary(merged); err != nil {
			t.Fatalf("merged encoding: %v", err)
		}
		if !maps.Equal(flat(&m), want) {
			t.Fatalf("MergeBinary: %v, want %v", flat(&m), want)
		}
		a.Merge(b)
		if !bytes.Equal(a.AppendBinary(nil), merged) {
			t.Fatal("Merge and MergeBinary differ")
		}
		seen := map[string]int64{}
		if err := aggregate.EachValue(merged, aggregate.Country, func(v []byte, n int64) { seen[string(v)] += n }); err != nil {
			t.Fatal(err)
		}
		for k, n := range want {
			if k[0] == "country" && seen[k[1]] != n {
				t.Fatalf("EachValue: %s %d, want %d", k[1], seen[k[1]], n)
			}
		}
	}
}

// TestDimsRejectsMalformed: truncations and reorderings of a valid
// encoding are errors, never a panic or a silent misread.
func TestDimsRejectsMalformed(t *testing.T) {
	t.Parallel()
	var d aggregate.DimCounts
	d[aggregate.Referrer] = []aggregate.ValueCount{{"a.example", 3}, {"b.example", 1}}
	d[aggregate.Status] = []aggregate.ValueCount{{"302", 4}}
	enc := d.AppendBinary(nil)
	bad := [][]byte{nil, {}, {2}, append(slices.Clone(enc), 0)}
	for i := 1; i < len(enc); i++ {
		bad = append(bad, enc[:i])
	}
	swapped := slices.Clone(enc)
	i := bytes.Index(swapped, []byte("a.example"))
	swapped[i] = 'c' // c.example before b.example
	bad = append(bad, swapped)
	for _, b := range bad {
		var got aggregate.DimCounts
		if err := got.UnmarshalBinary(b); !errors.Is(err, aggregate.ErrDimsFormat) {
			t.Errorf("UnmarshalBinary(%x) = %v, want ErrDimsFormat", b, err)
		}
		if _, err := d.MergeBinary(nil, b); b != nil && !errors.Is(err, aggregate.ErrDimsFormat) {
			t.Errorf("MergeBinary(%x) = %v, want ErrDimsFormat", b, err)
		}
	}
}

func FuzzDimsUnmarshal(f *testing.F) {
	var d aggregate.DimCounts
	d[aggregate.Country] = []aggregate.ValueCount{{"DE", 2}, {"FR", 1}}
	f.Add(d.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got aggregate.DimCounts
		if got.UnmarshalBinary(data) != nil {
			return
		}
		if !bytes.Equal(got.AppendBinary(nil), data) {
			t.Fatalf("%x decodes but encodes differently", data)
		}
	})
}
