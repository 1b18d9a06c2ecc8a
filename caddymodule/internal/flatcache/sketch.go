package flatcache

import "math/bits"

// sketch estimates how often keys were asked for recently: a count-min
// sketch (TinyLFU's) of 4-bit counters, four rows, sixteen counters to a
// uint64, with periodic halving so that old popularity fades. It is a
// slice of integers, like everything else in a shard: nothing for the
// garbage collector to trace. A shard owns one and touches it only under
// its write lock (misses and evictions), never on the read path.
type sketch struct {
	table []uint64 // rows × width 4-bit counters, row after row
	shift uint     // 64 - log2(width): a product's top bits pick a counter
	width uint64   // counters per row, a power of two >= 16
	adds  int      // increments since the last halving
	reset int      // increments that trigger a halving
}

// sketchRows is the number of rows (hash functions) of a sketch.
const sketchRows = 4

// rowSeeds are the odd multipliers that derive a row's counter from the
// key's hash. The shard is picked by the hash's top bits, which are
// therefore the same for every key of a shard: the products mix the other
// bits into the top ones that pick the counter.
var rowSeeds = [sketchRows]uint64{0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9, 0x94d049bb133111eb, 0xd6e8feb86659fd93}

// newSketch returns a sketch sized for a shard of about entries keys: one
// counter per key and row, and a halving every ten times as many
// increments as keys (the sample size of the TinyLFU paper).
func newSketch(entries int) sketch {
	width := uint64(1) << bits.Len(uint(max(entries, 16)-1))
	return sketch{
		table: make([]uint64, sketchRows*width/16),
		shift: uint(64 - bits.TrailingZeros64(width)),
		width: width,
		reset: 10 * max(entries, 16),
	}
}

// counter returns the word and the bit offset of row r's counter of h.
func (s *sketch) counter(h uint64, r int) (word uint64, off uint) {
	i := uint64(r)*s.width + (h*rowSeeds[r])>>s.shift
	return i / 16, uint(i%16) * 4
}

// estimate returns h's estimated recent frequency, 0 to 15.
func (s *sketch) estimate(h uint64) uint64 {
	least := uint64(15)
	for r := range sketchRows {
		w, off := s.counter(h, r)
		least = min(least, s.table[w]>>off&15)
	}
	return least
}

// increment counts one more occurrence of h. It raises only the counters
// at the minimum (a conservative update: the others already overcount),
// and halves every counter after reset increments.
func (s *sketch) increment(h uint64) {
	least := s.estimate(h)
	if least == 15 {
		return
	}
	for r := range sketchRows {
		w, off := s.counter(h, r)
		if s.table[w]>>off&15 == least {
			s.table[w] += 1 << off
		}
	}
	if s.adds++; s.adds >= s.reset {
		s.halve()
	}
}

// halve divides every counter by two, so that a key popular long ago
// loses to one popular now.
func (s *sketch) halve() {
	for i := range s.table {
		s.table[i] = s.table[i] >> 1 & 0x7777_7777_7777_7777
	}
	s.adds /= 2
}
