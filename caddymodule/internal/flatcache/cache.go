// Package flatcache is a bounded in-process cache from string keys to a
// fixed-size value and one string each, laid out so that the garbage
// collector has nothing in it to trace.
//
// Why it exists: a Go cache that allocates a node per entry (otter, a map
// of strings, a linked list) hands the garbage collector one object and a
// few pointers per entry to mark on every cycle. With a million cached
// links that marking takes hundreds of milliseconds of a 2-core edge's CPU
// per cycle and shows in the p99 latency of every request it overlaps
// (docs/architecture.md, "The pointer-free L1"; the measurements are in
// docs/decisions/0001-pointer-free-l1.md). Here an entry is a slot in a
// slice of pointer-free structs, its key and string are bytes in a
// per-shard buffer, and the index is an open-addressing table of integers
// from a key's hash to its slot number: all of it is memory the collector never scans, whatever the
// number of entries.
//
// Semantics: entries live until their deadline (set from Config.Lifetime,
// and moved by Config.Extend on reads), until Delete, or until evicted when
// their shard is full (CLOCK, an approximation of least-recently-used that
// costs a read no more than setting a bit the first time). With
// Config.Admission a full shard admits a new key only if a frequency
// sketch says it is asked for more often than CLOCK's victim (sketch.go).
// Expired entries are invisible to reads. Load runs one load per key at a
// time.
package flatcache

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Clock is the time source: Unix nanoseconds. otter.Clock satisfies it.
type Clock interface{ NowNano() int64 }

// Config configures a Cache.
type Config[V any] struct {
	// MaxEntries bounds the number of entries, across all shards (a shard
	// may hold up to twice its share, so that the uneven spread of keys
	// over shards costs no entry). Required.
	MaxEntries int
	// Lifetime returns how long an entry stays from now (Unix ns) when it
	// is set. Required; a lifetime <= 0 means the entry is not stored.
	Lifetime func(v *V, s string, now int64) time.Duration
	// Extend, when set, is called on every hit with the entry's value, the
	// time and its deadline; a result later than the deadline becomes the
	// new deadline (the adaptive lifetime of hot keys). It runs under a
	// shard's read lock: it must be quick and must not call the cache.
	Extend func(v *V, now, deadline int64) int64
	// Clock is the time source; nil: the system clock.
	Clock Clock
	// Shards is the number of independently locked parts, rounded up to a
	// power of two; 0: a default that suits MaxEntries and GOMAXPROCS.
	Shards int
	// Admission, when set, makes a full shard keep a new key out unless
	// the key was asked for more often, recently, than the entry CLOCK
	// would evict for it (TinyLFU: a frequency sketch of 4-bit counters,
	// about 2 bytes per entry, written on misses and evictions only). A
	// scan of one-off keys then leaves the hot set in place.
	Admission bool
}

// Cache is the cache. Its methods are safe for concurrent use.
type Cache[V any] struct {
	seed     maphash.Seed
	shift    uint // hash >> shift picks the shard
	bound    bound
	shards   []shard[V]
	lifetime func(v *V, s string, now int64) time.Duration
	extend   func(v *V, now, deadline int64) int64
	now      func() int64

	loadMu sync.Mutex
	loads  map[string]*call[V] // loads in flight (load.go)
}

// bound is the cache-wide limit on entries that the shards share.
type bound struct {
	max   int64
	count atomic.Int64 // slots in use, in all shards
}

// take claims room for one more entry, if there is any.
func (b *bound) take() bool {
	for {
		n := b.count.Load()
		if n >= b.max {
			return false
		}
		if b.count.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// maxKeyLen is the longest key the cache stores; Set ignores longer ones.
const maxKeyLen = 1<<16 - 1

// New returns an empty cache. It panics if V holds pointers (they would
// defeat the point of the package) or if the config lacks what it needs.
func New[V any](cfg Config[V]) *Cache[V] {
	if hasPointers(reflect.TypeFor[V]()) {
		panic(fmt.Sprintf("flatcache: value type %v holds pointers", reflect.TypeFor[V]()))
	}
	if cfg.MaxEntries <= 0 || cfg.Lifetime == nil {
		panic("flatcache: Config needs MaxEntries > 0 and Lifetime")
	}
	n := cfg.Shards
	if n <= 0 {
		// Enough shards that writers rarely meet and a shard's compaction
		// is short, but at least 64 entries a shard, so that a small
		// cache's CLOCK still has entries to choose from.
		n = min(max(16*runtime.GOMAXPROCS(0), 256), max(cfg.MaxEntries/64, 1))
	}
	n = 1 << bits.Len(uint(n-1)) // a power of two >= n
	c := &Cache[V]{
		seed:     maphash.MakeSeed(),
		shift:    uint(64 - bits.TrailingZeros(uint(n))),
		shards:   make([]shard[V], n),
		lifetime: cfg.Lifetime,
		extend:   cfg.Extend,
		now:      func() int64 { return time.Now().UnixNano() },
		loads:    make(map[string]*call[V]),
	}
	if cfg.Clock != nil {
		c.now = cfg.Clock.NowNano
	}
	c.bound.max = int64(cfg.MaxEntries)
	// A shard's share is MaxEntries/n; with a million keys over 256 shards
	// the fullest shard has about 5% more than its share, so a hard limit
	// of twice the share is never what evicts.
	share := (cfg.MaxEntries + n - 1) / n
	limit := max(2*share, 16)
	for i := range c.shards {
		c.shards[i].limit = limit
		c.shards[i].share = share
		c.shards[i].seed = c.seed
		c.shards[i].bound = &c.bound
		if cfg.Admission {
			c.shards[i].admit = newSketch(share)
		}
	}
	return c
}

// hasPointers reports whether values of t contain pointers.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// shardOf returns the hash of key and its shard.
func (c *Cache[V]) shardOf(key string) (uint64, *shard[V]) {
	h := maphash.String(c.seed, key)
	return h, &c.shards[h>>c.shift&uint64(len(c.shards)-1)]
}

// Get returns key's value and string if it is cached and not expired.
// The string points into the cache's memory, which is never written again
// once it is handed out: it is as immutable as any Go string.
func (c *Cache[V]) Get(key string) (v V, s string, ok bool) {
	h, sh := c.shardOf(key)
	now := c.now()
	sh.mu.RLock()
	if sl := sh.find(h, key); sl != nil {
		if d := atomic.LoadInt64(&sl.deadline); now < d {
			v, s, ok = sl.val, sh.str(sl), true
			if atomic.LoadUint32(&sl.ref) == 0 {
				atomic.StoreUint32(&sl.ref, 1) // written once, not on every hit
			}
			if c.extend != nil {
				if nd := c.extend(&sl.val, now, d); nd > d {
					atomic.CompareAndSwapInt64(&sl.deadline, d, nd)
				}
			}
		}
	}
	sh.mu.RUnlock()
	return v, s, ok
}

// Peek is Get without the side effects (no reference bit, no extension),
// for tests and for decisions about an entry.
func (c *Cache[V]) Peek(key string) (v V, s string, ok bool) {
	h, sh := c.shardOf(key)
	now := c.now()
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sl := sh.find(h, key); sl != nil && now < atomic.LoadInt64(&sl.deadline) {
		return sl.val, sh.str(sl), true
	}
	return v, s, false
}

// Set stores v and s under key, replacing what the key had, for
// Config.Lifetime. A key longer than 65,535 bytes is not stored. Set
// copies key and s: the caller may reuse their memory.
func (c *Cache[V]) Set(key string, v V, s string) {
	h, sh := c.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.setLocked(sh, h, key, &v, s)
}

// setLocked is Set with the shard locked.
func (c *Cache[V]) setLocked(sh *shard[V], h uint64, key string, v *V, s string) {
	if len(key) > maxKeyLen {
		return
	}
	now := c.now()
	life := c.lifetime(v, s, now)
	if life <= 0 {
		sh.deleteLocked(h, key)
		return
	}
	sh.put(h, key, v, s, now, now+int64(life))
}

// Delete removes key, and makes a load of key in flight leave the cache
// as it is (its result is still returned to its callers).
func (c *Cache[V]) Delete(key string) {
	h, sh := c.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.epoch++
	sh.deleteLocked(h, key)
}

// Replace stores v and s under key if key is cached and not expired, and
// reports whether it did. Either way a load of key in flight leaves the
// cache as it is, as after Delete.
func (c *Cache[V]) Replace(key string, v V, s string) bool {
	h, sh := c.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.epoch++
	if sl := sh.find(h, key); sl == nil || c.now() >= sl.deadline {
		return false
	}
	c.setLocked(sh, h, key, &v, s)
	return true
}

// Len returns the number of entries, expired ones not yet evicted included.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += sh.count
		sh.mu.RUnlock()
	}
	return n
}

// Evictions returns how many entries were evicted before their deadline
// to make room for others: a cache too small for its working set shows
// here.
func (c *Cache[V]) Evictions() uint64 {
	return c.sum(func(sh *shard[V]) uint64 { return sh.evicted })
}

// Rejections returns how many new keys admission (Config.Admission) kept
// out of a full cache because the entry they would have evicted was asked
// for at least as often: a scan shows here instead of in Evictions.
func (c *Cache[V]) Rejections() uint64 {
	return c.sum(func(sh *shard[V]) uint64 { return sh.rejected })
}

// sum adds up a counter of every shard, each read under its lock.
func (c *Cache[V]) sum(count func(*shard[V]) uint64) uint64 {
	var n uint64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += count(sh)
		sh.mu.RUnlock()
	}
	return n
}

// Capacity returns the most entries the cache holds: MaxEntries.
func (c *Cache[V]) Capacity() int { return int(c.bound.max) }

// Clear removes every entry and makes every load in flight leave the
// cache as it is. The memory is released.
func (c *Cache[V]) Clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.epoch++
		c.bound.count.Add(-int64(sh.count))
		sh.table, sh.count = nil, 0
		sh.slots, sh.free, sh.data, sh.garbage, sh.hand = nil, nil, nil, 0, 0
		sh.mu.Unlock()
	}
}

// keyString returns the key bytes at off as a string without copying.
func keyString(data []byte, off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&data[off], int(n))
}
