package aggregate

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ValueCount is the clicks of one dimension value.
type ValueCount struct {
	Value  string
	Clicks int64
}

// DimCounts are the clicks per value of every dimension of one aggregate
// row, each list sorted by value (bytewise) without repeats. They are
// stored in the row itself (the dims column), encoded by AppendBinary: a
// batch writes one row per link-bucket, however many distinct values its
// clicks carry.
type DimCounts [numDimensions][]ValueCount

// ErrDimsFormat is wrapped by the errors of malformed encoded dimensions.
var ErrDimsFormat = errors.New("aggregate: malformed dimension counts")

// The encoding, version 2:
//
//	byte 0     version (2)
//	then, for each dimension in Dimensions order:
//	           uvarint n, then n entries in strictly increasing bytewise
//	           order of value: uvarint len(value), value, uvarint clicks
//
// Version 1, written before the variant dimension (smart links, issue
// 16), is the same without the last dimension: it decodes with no
// variant values, and a merge into it writes version 2. Readers of
// version 1 refuse version 2 (they take the variant for trailing bytes),
// so the stats API and the ingest are upgraded together (docs/stats.md).
// Seven dimensions of a link-hour with a handful of values take a few
// dozen bytes.
const dimsVersion = 2

// dimsV1 is the version without the variant dimension.
const dimsV1 = 1

// dimsIn returns the number of dimensions an encoding of version v holds,
// 0 for a version this package does not know.
func dimsIn(v byte) int {
	switch v {
	case dimsVersion:
		return int(numDimensions)
	case dimsV1:
		return int(Variant)
	}
	return 0
}

// AppendBinary appends the encoding of d to b.
func (d *DimCounts) AppendBinary(b []byte) []byte {
	b = append(b, dimsVersion)
	for _, vs := range d {
		vs = capValues(vs)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v.Value)))
			b = append(b, v.Value...)
			b = binary.AppendUvarint(b, uint64(v.Clicks))
		}
	}
	return b
}

// UnmarshalBinary replaces d with the counts encoded in data.
func (d *DimCounts) UnmarshalBinary(data []byte) error {
	*d = DimCounts{}
	return eachDim(data, func(dim Dimension, n int) {
		d[dim] = make([]ValueCount, 0, n)
	}, func(dim Dimension, value []byte, clicks int64) {
		d[dim] = append(d[dim], ValueCount{Value: string(value), Clicks: clicks})
	})
}

// EachValue calls fn for every value of dimension dim in data (an
// encoding of DimCounts), in value order, without decoding the others.
// value is only valid during the call.
func EachValue(data []byte, dim Dimension, fn func(value []byte, clicks int64)) error {
	return eachDim(data, nil, func(d Dimension, value []byte, clicks int64) {
		if d == dim {
			fn(value, clicks)
		}
	})
}

// eachDim walks an encoding, checking it: start (if not nil) is called
// with each dimension's number of values before them.
func eachDim(data []byte, start func(Dimension, int), fn func(Dimension, []byte, int64)) error {
	if len(data) == 0 || dimsIn(data[0]) == 0 {
		return fmt.Errorf("%w: version %v", ErrDimsFormat, data[:min(len(data), 1)])
	}
	r := dimsReader{b: data[1:]}
	for dim := range Dimension(dimsIn(data[0])) {
		n := r.uvarint()
		if r.err != nil || n > uint64(len(r.b)) {
			return fmt.Errorf("%w: count of %s", ErrDimsFormat, dim)
		}
		if start != nil {
			start(dim, int(n))
		}
		var prev []byte
		for i := range n {
			v, clicks := r.entry()
			if r.err != nil {
				return fmt.Errorf("%w: %s entry %d: %w", ErrDimsFormat, dim, i, r.err)
			}
			if i > 0 && string(v) <= string(prev) {
				return fmt.Errorf("%w: %s values out of order", ErrDimsFormat, dim)
			}
			prev = v
			fn(dim, v, clicks)
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrDimsFormat, len(r.b))
	}
	return nil
}

// dimsReader reads an encoding; the first error sticks.
type dimsReader struct {
	b   []byte
	err error
}

func (r *dimsReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) { // truncated, too long or not minimal
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *dimsReader) entry() ([]byte, int64) {
	l := r.uvarint()
	if r.err == nil && l > uint64(len(r.b)) {
		r.err = errors.New("value past the end")
	}
	if r.err != nil {
		return nil, 0
	}
	v := r.b[:l]
	r.b = r.b[l:]
	c := r.uvarint()
	if c > 1<<62 {
		r.err = errors.New("clicks out of range")
	}
	return v, int64(c)
}

// MergeBinary appends to dst the encoding of the sum of d and stored (an
// encoding of DimCounts, nil for none), merging the sorted lists without
// decoding stored into strings: the write path merges every stored row it
// touches this way.
func (d *DimCounts) MergeBinary(dst, stored []byte) ([]byte, error) {
	if stored == nil {
		return d.AppendBinary(dst), nil
	}
	if len(stored) == 0 || dimsIn(stored[0]) == 0 {
		return dst, fmt.Errorf("%w: version", ErrDimsFormat)
	}
	storedDims := dimsIn(stored[0])
	dst = append(dst, dimsVersion)
	r := dimsReader{b: stored[1:]}
	for dim, mine := range d {
		var n uint64 // a dimension the stored version lacks has no values
		if dim < storedDims {
			n = r.uvarint()
		}
		if r.err != nil || n > uint64(len(r.b)) {
			return dst, fmt.Errorf("%w: count of %s", ErrDimsFormat, Dimension(dim))
		}
		// The merged count is not known before the merge: reserve the
		// largest uvarint it can take, then move the entries down.
		at := len(dst)
		dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
		body := len(dst)
		total, i, seen := uint64(0), 0, false
		var prev []byte
		for range n {
			v, clicks := r.entry()
			if r.err != nil {
				return dst, fmt.Errorf("%w: %s: %w", ErrDimsFormat, Dimension(dim), r.err)
			}
			if seen && string(v) <= string(prev) {
				return dst, fmt.Errorf("%w: %s values out of order", ErrDimsFormat, Dimension(dim))
			}
			prev, seen = v, true
			for i < len(mine) && mine[i].Value < string(v) {
				dst = appendEntry(dst, mine[i].Value, mine[i].Clicks)
				i++
				total++
			}
			if i < len(mine) && mine[i].Value == string(v) {
				clicks += mine[i].Clicks
				i++
			}
			dst = appendEntry(dst, string(v), clicks)
			total++
		}
		for ; i < len(mine); i++ {
			dst = appendEntry(dst, mine[i].Value, mine[i].Clicks)
			total++
		}
		if total > MaxDimValues {
			dst, total = recapEntries(dst, body, total)
		}
		w := binary.PutUvarint(dst[at:], total)
		dst = append(dst[:at+w], dst[body:]...)
	}
	if r.err == nil && len(r.b) != 0 {
		return dst, fmt.Errorf("%w: %d trailing bytes", ErrDimsFormat, len(r.b))
	}
	return dst, nil
}

func appendEntry(b []byte, value string, clicks int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(value)))
	b = append(b, value...)
	return binary.AppendUvarint(b, uint64(clicks))
}

// Merge adds o's counts to d.
func (d *DimCounts) Merge(o *DimCounts) {
	for dim := range d {
		d[dim] = mergeSorted(d[dim], o[dim])
	}
}

func mergeSorted(a, b []ValueCount) []ValueCount {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]ValueCount, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].Value, b[j].Value); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, ValueCount{a[i].Value, a[i].Clicks + b[j].Clicks})
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// sortDims sorts each list of d by value.
func sortDims(d *DimCounts) {
	for _, vs := range d {
		slices.SortFunc(vs, func(a, b ValueCount) int { return strings.Compare(a.Value, b.Value) })
	}
}

// MaxDimValues bounds the values one dimension keeps in one row. Past it,
// the values with the fewest clicks are added up under OtherValue, so a
// row cannot grow without end (a day's roll-up row under a flood of
// distinct referrer hosts would otherwise be rewritten larger by every
// batch). Clicks are never lost: the row's total per dimension stays the
// same; only which of the rarest values they came from is.
const MaxDimValues = 1000

// OtherValue is the value that holds the clicks of the values a row's
// dimension could not keep (MaxDimValues). No referrer host, country,
// device, browser, OS, status or variant can be written this way.
const OtherValue = "(other)"

// capValues returns vs (sorted by value) if it has at most MaxDimValues
// values; else the MaxDimValues-1 with the most clicks (ties: the lower
// value) and OtherValue with the clicks of the rest, sorted by value.
func capValues(vs []ValueCount) []ValueCount {
	if len(vs) <= MaxDimValues {
		return vs
	}
	byClicks := make([]ValueCount, 0, len(vs))
	var other int64
	for _, v := range vs {
		if v.Value == OtherValue {
			other += v.Clicks
			continue
		}
		byClicks = append(byClicks, v)
	}
	slices.SortFunc(byClicks, func(a, b ValueCount) int {
		return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), strings.Compare(a.Value, b.Value))
	})
	kept := byClicks[:MaxDimValues-1]
	for _, v := range byClicks[MaxDimValues-1:] {
		other += v.Clicks
	}
	out := append(slices.Clone(kept), ValueCount{Value: OtherValue, Clicks: other})
	slices.SortFunc(out, func(a, b ValueCount) int { return strings.Compare(a.Value, b.Value) })
	return out
}

// recapEntries caps the total entries encoded at dst[body:] (one
// dimension's, sorted by value) with capValues and encodes the result in
// their place.
func recapEntries(dst []byte, body int, total uint64) ([]byte, uint64) {
	vs := make([]ValueCount, 0, total)
	r := dimsReader{b: dst[body:]}
	for range total {
		v, clicks := r.entry()
		vs = append(vs, ValueCount{Value: string(v), Clicks: clicks})
	}
	vs = capValues(vs)
	dst = dst[:body]
	for _, v := range vs {
		dst = appendEntry(dst, v.Value, v.Clicks)
	}
	return dst, uint64(len(vs))
}
