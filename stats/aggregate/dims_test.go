package aggregate_test

import (
	"bytes"
	"errors"
	"fmt"
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
	f.Add(v1Encoding)
	f.Fuzz(func(t *testing.T, data []byte) {
		var got aggregate.DimCounts
		if got.UnmarshalBinary(data) != nil {
			return
		}
		want := data
		if data[0] == 1 { // encodes as version 2, without variant values
			want = append(append([]byte{2}, data[1:]...), 0)
		}
		if !bytes.Equal(got.AppendBinary(nil), want) {
			t.Fatalf("%x decodes but encodes differently", data)
		}
	})
}

// v1Encoding is a row's dims as the ingest wrote them before the variant
// dimension: version 1, six dimensions.
var v1Encoding = []byte{1,
	1, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, // referrer
	1, 2, 'D', 'E', 3, // country
	0, 0, 0, // device, browser, os
	1, 3, '3', '0', '2', 3, // status
}

// TestDimsVersion1: rows written before the variant dimension decode with
// no variant values, and a merge into one writes version 2 with the
// batch's variants.
func TestDimsVersion1(t *testing.T) {
	t.Parallel()
	var old aggregate.DimCounts
	if err := old.UnmarshalBinary(v1Encoding); err != nil {
		t.Fatal(err)
	}
	if old[aggregate.Variant] != nil || sum(&old, aggregate.Country) != 3 || sum(&old, aggregate.Status) != 3 {
		t.Fatalf("version 1 decoded to %v", old)
	}
	n := 0
	if err := aggregate.EachValue(v1Encoding, aggregate.Variant, func([]byte, int64) { n++ }); err != nil || n != 0 {
		t.Fatalf("EachValue(version 1, variant): %d values, %v", n, err)
	}
	var batch aggregate.DimCounts
	batch[aggregate.Country] = []aggregate.ValueCount{{"DE", 1}, {"FR", 1}}
	batch[aggregate.Variant] = []aggregate.ValueCount{{"targets[0]", 1}, {"url", 1}}
	merged, err := batch.MergeBinary(nil, v1Encoding)
	if err != nil {
		t.Fatal(err)
	}
	if merged[0] != 2 {
		t.Fatalf("merge wrote version %d", merged[0])
	}
	want := old
	want.Merge(&batch)
	var got aggregate.DimCounts
	if err := got.UnmarshalBinary(merged); err != nil || !maps.Equal(flat(&got), flat(&want)) {
		t.Fatalf("merged %v, %v; want %v", got, err, want)
	}
	if _, err := batch.MergeBinary(nil, []byte{3}); !errors.Is(err, aggregate.ErrDimsFormat) {
		t.Fatalf("version 3: %v", err)
	}
}

// sum is the clicks of one dimension of d.
func sum(d *aggregate.DimCounts, dim aggregate.Dimension) int64 {
	var n int64
	for _, v := range d[dim] {
		n += v.Clicks
	}
	return n
}

// TestDimsCap: a dimension keeps at most MaxDimValues values, the ones
// with the most clicks, and OtherValue adds up the rest, in the encoding
// and in a merge with a stored row; no click is lost either way.
func TestDimsCap(t *testing.T) {
	const n = aggregate.MaxDimValues + 500
	var d aggregate.DimCounts
	for i := range n {
		d[aggregate.Referrer] = append(d[aggregate.Referrer], aggregate.ValueCount{Value: fmt.Sprintf("r%05d.example", i), Clicks: int64(i + 1)})
	}
	d[aggregate.Country] = []aggregate.ValueCount{{Value: "DE", Clicks: 3}}
	enc := d.AppendBinary(nil)
	var got aggregate.DimCounts
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	refs := got[aggregate.Referrer]
	if len(refs) != aggregate.MaxDimValues || sum(&got, aggregate.Referrer) != int64(n)*(n+1)/2 {
		t.Fatalf("%d values, %d clicks; want %d values, %d clicks", len(refs), sum(&got, aggregate.Referrer), aggregate.MaxDimValues, n*(n+1)/2)
	}
	if refs[0].Value != aggregate.OtherValue || refs[0].Clicks != 501*502/2 || refs[1].Value != "r00501.example" {
		t.Fatalf("first values %v, %v: want %s with the clicks of the 501 rarest, then r00501.example", refs[0], refs[1], aggregate.OtherValue)
	}
	if !slices.Equal(got[aggregate.Country], d[aggregate.Country]) {
		t.Fatalf("country %v: a small dimension is kept as it is", got[aggregate.Country])
	}

	// Ten new values with many clicks push ten more of the stored ones
	// into OtherValue; OtherValue itself merges like any value.
	var batch aggregate.DimCounts
	for i := range 10 {
		batch[aggregate.Referrer] = append(batch[aggregate.Referrer], aggregate.ValueCount{Value: fmt.Sprintf("z%d.example", i), Clicks: 1_000_000})
	}
	batch[aggregate.Referrer] = append([]aggregate.ValueCount{{Value: aggregate.OtherValue, Clicks: 7}}, batch[aggregate.Referrer]...)
	merged, err := batch.MergeBinary(nil, enc)
	if err != nil {
		t.Fatal(err)
	}
	var m aggregate.DimCounts
	if err := m.UnmarshalBinary(merged); err != nil {
		t.Fatal(err)
	}
	refs = m[aggregate.Referrer]
	wantOther := int64(511*512/2 + 7) // the 511 rarest stored values and the batch's own
	if len(refs) != aggregate.MaxDimValues || refs[0].Value != aggregate.OtherValue || refs[0].Clicks != wantOther ||
		sum(&m, aggregate.Referrer) != int64(n)*(n+1)/2+10_000_000+7 {
		t.Fatalf("merged: %d values, first %v, %d clicks", len(refs), refs[0], sum(&m, aggregate.Referrer))
	}
	if refs[len(refs)-1].Value != "z9.example" || refs[1].Value != "r00511.example" {
		t.Fatalf("merged kept %v … %v", refs[1], refs[len(refs)-1])
	}
}
