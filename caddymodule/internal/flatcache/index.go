package flatcache

// The index of a shard finds a key's slot: open addressing with linear
// probing over a table of uint64, each bucket holding the low 32 bits of
// its key's hash (the tag, which also names the bucket the key belongs
// in) over the slot number plus one (0: an empty bucket). It replaced a
// map[uint64]uint32, whose groups, tables and growth cost about 45 bytes
// an entry against 11 to 21 here, and it is a slice of integers that the
// garbage collector does not scan. A probe compares tags, and the key
// only when the tags match.

// maxLoad is the most entries a table holds, in sixteenths of its size:
// linear probing past three quarters makes misses walk long runs.
const maxLoad = 12

// lookup returns the bucket of key (hash h) and its slot, or the empty
// bucket where the probe stopped and ok false.
func (sh *shard[V]) lookup(h uint64, key string) (b uint64, i uint32, ok bool) {
	t := sh.table
	if len(t) == 0 {
		return 0, 0, false
	}
	mask := uint64(len(t) - 1)
	tag := h & 0xffff_ffff
	for b = tag & mask; ; b = (b + 1) & mask {
		e := t[b]
		if e == 0 {
			return b, 0, false
		}
		if e>>32 == tag {
			if i = uint32(e) - 1; sh.key(&sh.slots[i]) == key {
				return b, i, true
			}
		}
	}
}

// link adds slot i for a key of hash h that the index does not hold.
func (sh *shard[V]) link(h uint64, i uint32) {
	if 16*(sh.count+1) > maxLoad*len(sh.table) {
		sh.growIndex()
	}
	place(sh.table, h&0xffff_ffff<<32|uint64(i)+1)
	sh.count++
}

// place puts bucket value e in the first empty bucket from its own.
func place(t []uint64, e uint64) {
	mask := uint64(len(t) - 1)
	b := e >> 32 & mask
	for t[b] != 0 {
		b = (b + 1) & mask
	}
	t[b] = e
}

// growIndex doubles the table (16 buckets at first).
func (sh *shard[V]) growIndex() {
	t := make([]uint64, max(2*len(sh.table), 16))
	for _, e := range sh.table {
		if e != 0 {
			place(t, e)
		}
	}
	sh.table = t
}

// unlink empties bucket b, moving back the entries after it that the
// hole would hide from their probes (backward-shift deletion: no
// tombstones, so probes never get longer with churn).
func (sh *shard[V]) unlink(b uint64) {
	t := sh.table
	mask := uint64(len(t) - 1)
	t[b] = 0
	sh.count--
	for j := (b + 1) & mask; t[j] != 0; j = (j + 1) & mask {
		home := t[j] >> 32 & mask
		// The entry at j stays if its home lies cyclically in (b, j]:
		// its probe does not pass the hole.
		if b < j && b < home && home <= j || j < b && (b < home || home <= j) {
			continue
		}
		t[b], t[j] = t[j], 0
		b = j
	}
}
