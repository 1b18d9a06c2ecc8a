package flatcache

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// edgeVal has the size and alignment of the edge's L1 value
// (caddymodule's entry: 32 bytes).
type edgeVal struct {
	linkID, workspace, expires int64
	status                     uint16
	state, flags               uint8
	born                       uint32
}

// Shape of the edge's links in the memory benchmark: 7-byte codes and
// 45-byte URLs.
const (
	memCodeLen = 7
	memURLLen  = 45
)

// memCode is the i-th 7-byte code, base 62.
func memCode(buf *[memCodeLen]byte, i int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for j := memCodeLen - 1; j >= 0; j-- {
		buf[j] = digits[i%62]
		i /= 62
	}
	return string(buf[:])
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// memSizes are the cache sizes of BenchmarkMemoryPerEntry:
// FLATCACHE_MEM_SIZES (comma-separated) or 100,000 and 1,000,000.
func memSizes(b *testing.B) []int {
	list := os.Getenv("FLATCACHE_MEM_SIZES")
	if list == "" {
		return []int{100_000, 1_000_000}
	}
	var sizes []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			b.Fatalf("FLATCACHE_MEM_SIZES: %q is not a positive number", s)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// BenchmarkMemoryPerEntry fills a cache of N entries shaped like the
// edge's (7-byte codes, 45-byte URLs, a 32-byte value) and reports the
// heap it takes per entry (heap in use after a collection, with the cache
// minus without it, over N), and that minus the URL bytes: the cost of
// caching a link beyond its URL (issue 19's goal: at most 150 bytes).
// FLATCACHE_MEM_SIZES=10000000 measures ten million.
func BenchmarkMemoryPerEntry(b *testing.B) {
	for _, n := range memSizes(b) {
		for _, admission := range []bool{false, true} {
			b.Run("entries="+strconv.Itoa(n)+"/admission="+strconv.FormatBool(admission), func(b *testing.B) {
				url := "https://example.com/landing/page/" + strings.Repeat("u", memURLLen-33-memCodeLen)
				var per, slots, data float64
				for b.Loop() {
					before := heapInUse()
					c := New(Config[edgeVal]{
						MaxEntries: n, Admission: admission,
						Lifetime: func(*edgeVal, string, int64) time.Duration { return time.Hour },
					})
					var code [memCodeLen]byte
					for i := range n {
						k := memCode(&code, i)
						c.Set(k, edgeVal{linkID: int64(i)}, url+k)
					}
					after := heapInUse()
					if c.Len() != n {
						b.Fatalf("Len %d, want %d", c.Len(), n)
					}
					per = float64(after-before) / float64(n)
					slots, data = 0, 0
					for i := range c.shards {
						slots += float64(cap(c.shards[i].slots)) * float64(unsafe.Sizeof(c.shards[i].slots[0])) / float64(n)
						data += float64(cap(c.shards[i].data)) / float64(n)
					}
				}
				b.ReportMetric(per, "B/entry")
				b.ReportMetric(per-memURLLen, "B/entry-beyond-URL")
				// Where it goes: slots, key and URL bytes, and the rest
				// (the index, the sketch, the shards).
				b.ReportMetric(slots, "B/entry-slots")
				b.ReportMetric(data, "B/entry-data")
				b.ReportMetric(per-slots-data, "B/entry-index+rest")
			})
		}
	}
}
