package flatcache

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fullCache returns a cache of n entries shaped like the edge's (7-byte
// codes, 45-byte URLs) and its keys. The benchmarks that only read share
// one (readOnly), built once however often the framework calls them.
func fullCache(b *testing.B, n int) (*Cache[val], []string) {
	return fullCacheOf(b, n, false)
}

// fullCacheOf is fullCache with admission on or off.
func fullCacheOf(b *testing.B, n int, admission bool) (*Cache[val], []string) {
	b.Helper()
	c := New(Config[val]{MaxEntries: n, Admission: admission, Lifetime: func(*val, string, int64) time.Duration { return time.Hour }})
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "c" + strconv.Itoa(1_000_000+i)
		c.Set(keys[i], val{id: int64(i)}, "https://example.com/landing/page/"+keys[i])
	}
	return c, keys
}

// readOnly is the million-entry cache of BenchmarkGet, without and with
// admission.
var readOnly [2]struct {
	once sync.Once
	c    *Cache[val]
	keys []string
}

// BenchmarkGet reads random keys of a cache of a million entries: the
// cost of an L1 hit, mostly cache misses in memory that the CPU cache
// cannot hold. Admission must not change it: a hit never touches the
// sketch.
func BenchmarkGet(b *testing.B) {
	for i, admission := range []bool{false, true} {
		b.Run("admission="+strconv.FormatBool(admission), func(b *testing.B) {
			ro := &readOnly[i]
			ro.once.Do(func() { ro.c, ro.keys = fullCacheOf(b, 1_000_000, admission) })
			benchmarkGet(b, ro.c, ro.keys)
		})
	}
}

func benchmarkGet(b *testing.B, c *Cache[val], keys []string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			if _, _, ok := c.Get(keys[r.IntN(len(keys))]); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkSet replaces random entries of a full cache (an L1 fill).
func BenchmarkSet(b *testing.B) {
	c, keys := fullCache(b, 1_000_000)
	const url = "https://example.com/landing/page/c1234567"
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(keys[(i*7919)%len(keys)], val{id: int64(i)}, url)
		i++
	}
}

// BenchmarkSetEvicting inserts new keys into a full cache, each evicting
// one (a working set larger than the cache).
func BenchmarkSetEvicting(b *testing.B) {
	c, _ := fullCache(b, 100_000)
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "n" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(keys[i&(len(keys)-1)], val{id: int64(i)}, "https://example.com/landing/page/x")
		i++
	}
}
