package flatcache

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// shard is one independently locked part of a Cache. Nothing in it holds
// a pointer that leads to per-entry memory: the index is integers, the
// slots are pointer-free structs and data is bytes.
type shard[V any] struct {
	mu      sync.RWMutex
	seed    maphash.Seed // the cache's, to hash a slot's key again
	bound   *bound       // the cache's limit on entries
	limit   int          // most slots in this shard
	share   int          // the cache's capacity over the shards: where most shards end
	table   []uint64     // the index: key -> slot (index.go)
	count   int          // entries in the index
	slots   []slot[V]    // grows up to limit
	free    []uint32     // slots emptied by Delete, reused first
	hand    int          // the CLOCK hand: the next slot to consider for eviction
	epoch   uint64       // incremented by Delete and Replace, for loads in flight
	evicted uint64       // live entries evicted to make room

	// admit, when its table is not nil, is the frequency sketch of
	// admission (Config.Admission): a new key takes a live entry's slot
	// only if it was asked for more often than that entry. rejected
	// counts the new keys it kept out.
	admit    sketch
	rejected uint64

	// data holds every entry's key followed by its string. It is
	// append-only: bytes once handed out in a string are never written
	// again. When it is full, the live bytes are copied to a new buffer
	// (the old one stays, unchanged, for as long as a string points into
	// it), and garbage, the bytes no slot uses, is dropped.
	data    []byte
	garbage int
}

// slot is one entry. deadline and ref are written by readers too
// (atomically, under the read lock); everything else only under the
// write lock.
//
// It holds no hash of its key (8 bytes an entry): only evictions need it,
// and they hash the key again (hashOf).
type slot[V any] struct {
	deadline int64  // Unix ns; 0: an empty slot
	ref      uint32 // CLOCK's reference bit: read since the hand last passed
	klen     uint32 // key bytes at data[off:]
	slen     uint32 // string bytes after the key
	off      uint32
	val      V
}

// minData is the smallest data buffer a shard allocates.
const minData = 4 << 10

func (sh *shard[V]) key(sl *slot[V]) string { return keyString(sh.data, sl.off, sl.klen) }

func (sh *shard[V]) str(sl *slot[V]) string { return keyString(sh.data, sl.off+sl.klen, sl.slen) }

// hashOf is the hash of a slot's key, as Cache.shardOf computes it.
func (sh *shard[V]) hashOf(sl *slot[V]) uint64 { return maphash.String(sh.seed, sh.key(sl)) }

// put stores an entry for key (hash h) until deadline, in key's slot if
// it has one, else in a new or evicted slot, unless admission keeps the
// key out.
func (sh *shard[V]) put(h uint64, key string, v *V, s string, now, deadline int64) {
	if sh.admit.table != nil {
		sh.admit.increment(h) // a put is a miss (or a change): the key was asked for
	}
	b, i, found := sh.lookup(h, key)
	if found {
		sh.release(&sh.slots[i])
	} else {
		var ok bool
		if i, ok = sh.alloc(h, now); !ok {
			return
		}
	}
	if !sh.reserve(len(key) + len(s)) {
		// Too big for a shard (4 GiB): not cached.
		if found {
			sh.unlink(b) // b still holds: reserve leaves the index alone
		}
		sh.slots[i] = slot[V]{}
		sh.free = append(sh.free, i)
		sh.bound.count.Add(-1)
		return
	}
	off := len(sh.data)
	sh.data = append(sh.data, key...)
	sh.data = append(sh.data, s...)
	sh.slots[i] = slot[V]{deadline: deadline, klen: uint32(len(key)), slen: uint32(len(s)), off: uint32(off), val: *v}
	if !found {
		sh.link(h, i)
	}
}

// find returns key's slot (hash h), expired or not, or nil.
func (sh *shard[V]) find(h uint64, key string) *slot[V] {
	if _, i, ok := sh.lookup(h, key); ok {
		return &sh.slots[i]
	}
	return nil
}

// deleteLocked removes key (hash h) if it has an entry.
func (sh *shard[V]) deleteLocked(h uint64, key string) {
	b, i, found := sh.lookup(h, key)
	if !found {
		return
	}
	sh.unlink(b)
	sh.release(&sh.slots[i])
	sh.slots[i] = slot[V]{}
	sh.free = append(sh.free, i)
	sh.bound.count.Add(-1)
}

// release counts a slot's bytes as garbage and detaches them from it.
func (sh *shard[V]) release(sl *slot[V]) {
	sh.garbage += int(sl.klen) + int(sl.slen)
	sl.klen, sl.slen = 0, 0
}

// alloc returns an empty slot for a new entry of hash h: a freed or new
// one while the cache has room (and the shard is below its limit), or else
// the one CLOCK evicts here. The hand skips (and clears) slots read since
// it last passed, and takes the first one that was not read or has
// expired; after a whole turn every bit is clear, so it stops within two
// turns. A shard with no entry to evict takes a slot even when the cache
// is full, so the cache may hold up to one entry per shard more than its
// bound.
//
// With admission, the hand's victim, if live, stays unless h's estimated
// frequency beats its own: then alloc reports false and the new key is
// not cached (a scan of one-off keys cannot push out the hot set). Each
// bit the hand clears counts as one occurrence of its key in the sketch:
// the hits of a cached key reach the sketch this way, at most one per turn
// of the hand, and the read path never writes the sketch.
func (sh *shard[V]) alloc(h uint64, now int64) (uint32, bool) {
	if sh.count == 0 || (len(sh.free) > 0 || len(sh.slots) < sh.limit) && sh.bound.take() {
		if sh.count == 0 {
			sh.bound.count.Add(1) // see above; take() may not have run
		}
		if n := len(sh.free); n > 0 {
			i := sh.free[n-1]
			sh.free = sh.free[:n-1]
			return i, true
		}
		n := len(sh.slots)
		if n == cap(sh.slots) {
			// Doubling up to the shard's share of the cache, where most
			// shards end, then by an eighth up to the limit: append's
			// growth would leave up to half the slots of a full cache
			// empty for good (at 10 million entries, 64 slots of 256
			// shards of 39,063 entries grew to 65,536: 107 bytes an entry
			// for 64-byte slots).
			next := 2 * n
			if n >= sh.share {
				next = n + n/8
			} else if next > sh.share {
				next = sh.share
			}
			grown := make([]slot[V], n, min(max(next, 16), sh.limit))
			copy(grown, sh.slots)
			sh.slots = grown
		}
		sh.slots = append(sh.slots, slot[V]{})
		return uint32(n), true
	}
	for {
		i := sh.hand
		sh.hand = (sh.hand + 1) % len(sh.slots)
		sl := &sh.slots[i]
		if sl.deadline == 0 {
			continue // a freed slot, on the free list
		}
		if sl.ref == 0 || sl.deadline <= now {
			vh := sh.hashOf(sl)
			if sl.deadline > now {
				if sh.admit.table != nil && sh.admit.estimate(h) <= sh.admit.estimate(vh) {
					sh.rejected++
					return 0, false
				}
				sh.evicted++
			}
			if b, j, ok := sh.lookup(vh, sh.key(sl)); ok && j == uint32(i) {
				sh.unlink(b)
			}
			sh.release(sl)
			*sl = slot[V]{}
			return uint32(i), true
		}
		atomic.StoreUint32(&sl.ref, 0)
		if sh.admit.table != nil {
			sh.admit.increment(sh.hashOf(sl))
		}
	}
}

// reserve makes room for n more bytes of data, copying the live bytes to
// a new buffer when the current one is full, and reports whether offsets
// still fit a uint32.
func (sh *shard[V]) reserve(n int) bool {
	if cap(sh.data)-len(sh.data) >= n {
		return true
	}
	// Half as much again as the live bytes: twice as much cost a full
	// cache up to its key and string bytes again (26 bytes a link on
	// average), a quarter more made each byte that replaces another cost
	// five bytes of new buffer (three here), on the miss path.
	live := len(sh.data) - sh.garbage
	size := max(live+n+(live+n)/2, minData)
	if size > math.MaxUint32 {
		if live+n > math.MaxUint32 {
			return false
		}
		size = math.MaxUint32
	}
	data := make([]byte, 0, size)
	for i := range sh.slots {
		sl := &sh.slots[i]
		if n := sl.klen + sl.slen; n > 0 {
			off := len(data)
			data = append(data, sh.data[sl.off:sl.off+n]...)
			sl.off = uint32(off)
		}
	}
	sh.data, sh.garbage = data, 0
	return true
}
