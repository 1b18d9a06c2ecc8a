package flatcache

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// val is a typical value: a few integers.
type val struct {
	id    int64
	state uint8
}

// fakeClock is a Clock that tests move by hand.
type fakeClock struct{ nanos atomic.Int64 }

func (c *fakeClock) NowNano() int64          { return c.nanos.Load() }
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

func newCache(t testing.TB, maxEntries, shards int) (*Cache[val], *fakeClock) {
	t.Helper()
	clock := new(fakeClock)
	clock.nanos.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c := New(Config[val]{
		MaxEntries: maxEntries,
		Shards:     shards,
		Clock:      clock,
		Lifetime: func(v *val, _ string, _ int64) time.Duration {
			if v.state == 9 {
				return 0 // "do not cache"
			}
			return time.Minute
		},
	})
	return c, clock
}

func mustGet(t *testing.T, c *Cache[val], key string, want val, wantS string) {
	t.Helper()
	v, s, ok := c.Get(key)
	if !ok || v != want || s != wantS {
		t.Fatalf("Get(%q) = %+v %q %v; want %+v %q", key, v, s, ok, want, wantS)
	}
}

func mustMiss(t *testing.T, c *Cache[val], key string) {
	t.Helper()
	if v, s, ok := c.Get(key); ok {
		t.Fatalf("Get(%q) = %+v %q; want a miss", key, v, s)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 1000, 4)
	mustMiss(t, c, "a")

	c.Set("a", val{id: 1}, "https://a.example/")
	c.Set("", val{id: 2}, "")  // the empty key and string are values too
	c.Set("b", val{id: 3}, "") // an empty string
	mustGet(t, c, "a", val{id: 1}, "https://a.example/")
	mustGet(t, c, "", val{id: 2}, "")
	mustGet(t, c, "b", val{id: 3}, "")
	if c.Len() != 3 {
		t.Fatalf("Len %d, want 3", c.Len())
	}

	c.Set("a", val{id: 4}, "https://longer.example/path") // overwrite
	mustGet(t, c, "a", val{id: 4}, "https://longer.example/path")

	if !c.Replace("a", val{id: 5}, "https://c.example/") {
		t.Fatal("Replace of a cached key reported false")
	}
	mustGet(t, c, "a", val{id: 5}, "https://c.example/")
	if c.Replace("zz", val{id: 6}, "x") {
		t.Fatal("Replace of an absent key reported true")
	}
	mustMiss(t, c, "zz")

	c.Delete("a")
	c.Delete("a")      // twice is fine
	c.Delete("absent") // so is an absent key
	mustMiss(t, c, "a")
	if c.Len() != 2 {
		t.Fatalf("Len %d after Delete, want 2", c.Len())
	}

	c.Set("n", val{id: 7, state: 9}, "x") // Lifetime 0: not stored
	mustMiss(t, c, "n")
	c.Set("b", val{id: 8, state: 9}, "") // ...and it removes what was there
	mustMiss(t, c, "b")

	c.Set(strings.Repeat("k", maxKeyLen+1), val{id: 9}, "x") // too long: ignored
	mustMiss(t, c, strings.Repeat("k", maxKeyLen+1))

	c.Clear()
	if c.Len() != 0 {
		t.Fatalf("Len %d after Clear", c.Len())
	}
	mustMiss(t, c, "")
	c.Set("a", val{id: 10}, "y") // usable after Clear
	mustGet(t, c, "a", val{id: 10}, "y")
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	c, clock := newCache(t, 100, 1)
	c.Set("a", val{id: 1}, "x")
	clock.Advance(time.Minute - 1)
	mustGet(t, c, "a", val{id: 1}, "x")
	clock.Advance(1)
	mustMiss(t, c, "a")
	if _, _, ok := c.Peek("a"); ok {
		t.Fatal("Peek sees an expired entry")
	}
	if c.Replace("a", val{id: 2}, "y") {
		t.Fatal("Replace of an expired entry reported true")
	}
	c.Set("a", val{id: 3}, "z") // an expired entry's slot is reused
	mustGet(t, c, "a", val{id: 3}, "z")
	if c.Len() != 1 {
		t.Fatalf("Len %d, want 1", c.Len())
	}
}

func TestExtend(t *testing.T) {
	t.Parallel()
	clock := new(fakeClock)
	var calls atomic.Int64
	c := New(Config[val]{
		MaxEntries: 10, Clock: clock,
		Lifetime: func(*val, string, int64) time.Duration { return time.Minute },
		// Every read past half the lifetime doubles it (from time 0).
		Extend: func(v *val, now, deadline int64) int64 {
			calls.Add(1)
			if now*2 > deadline {
				return deadline * 2
			}
			return deadline - 1 // earlier: ignored
		},
	})
	c.Set("a", val{id: 1}, "x")
	mustGet(t, c, "a", val{id: 1}, "x") // at 0: deadline stays 1m
	clock.Advance(40 * time.Second)
	mustGet(t, c, "a", val{id: 1}, "x") // past half: 2m
	clock.Advance(70 * time.Second)     // 1m50s
	if _, _, ok := c.Peek("a"); !ok {
		t.Fatal("the extended entry expired at its first deadline")
	}
	if calls.Load() != 2 {
		t.Fatalf("Extend called %d times, want 2 (Peek does not extend)", calls.Load())
	}
	clock.Advance(10 * time.Second) // 2m
	if _, _, ok := c.Peek("a"); ok {
		t.Fatal("the entry outlived its extended deadline")
	}
}

// CLOCK: entries read since the hand last passed survive a round of
// evictions; the others go, oldest slot first.
func TestEvictionKeepsWhatIsRead(t *testing.T) {
	t.Parallel()
	const n = 100
	c, _ := newCache(t, n, 1)
	for i := range n {
		c.Set("k"+strconv.Itoa(i), val{id: int64(i)}, "s"+strconv.Itoa(i))
	}
	for i := range n / 2 {
		mustGet(t, c, "k"+strconv.Itoa(i), val{id: int64(i)}, "s"+strconv.Itoa(i))
	}
	for i := n; i < n+n/2; i++ {
		c.Set("k"+strconv.Itoa(i), val{id: int64(i)}, "s"+strconv.Itoa(i))
	}
	if c.Len() != n || c.Evictions() != n/2 {
		t.Fatalf("Len %d, Evictions %d; want %d, %d", c.Len(), c.Evictions(), n, n/2)
	}
	for i := range n + n/2 {
		k := "k" + strconv.Itoa(i)
		if _, _, ok := c.Peek(k); ok != (i < n/2 || i >= n) {
			t.Errorf("%s cached: %v", k, ok)
		}
	}
}

// However many keys go through it, the cache holds at most its capacity,
// and its memory stays proportional to what it holds.
func TestBounded(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 1000, 8)
	if c.Capacity() != 1000 {
		t.Fatalf("Capacity %d, want 1000", c.Capacity())
	}
	long := strings.Repeat("u", 200)
	for i := range 50_000 {
		c.Set(strconv.Itoa(i), val{id: int64(i)}, long)
		if i%7 == 0 {
			c.Delete(strconv.Itoa(i - 3))
		}
	}
	if n := c.Len(); n > c.Capacity() || n < c.Capacity()*9/10 {
		t.Fatalf("Len %d, capacity %d", n, c.Capacity())
	}
	var data, slots int
	for i := range c.shards {
		data += cap(c.shards[i].data)
		slots += cap(c.shards[i].slots)
	}
	if per := data / c.Len(); per > 4*(200+5)+minData*8/c.Len() {
		t.Fatalf("%d bytes of data per entry of about 205", per)
	}
	if slots > 2*c.Capacity() {
		t.Fatalf("%d slots for a capacity of %d", slots, c.Capacity())
	}
}

// A string handed out stays the same while its key is overwritten, deleted
// and its shard's data is compacted many times over.
func TestStringsStayValid(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 64, 1)
	c.Set("a", val{}, "first value of a")
	_, s, _ := c.Get("a")
	for i := range 10_000 {
		c.Set("a", val{}, fmt.Sprintf("value %d of a", i))
		c.Set(strconv.Itoa(i), val{}, strings.Repeat("x", i%300))
	}
	c.Delete("a")
	if s != "first value of a" {
		t.Fatalf("the string changed to %q", s)
	}
}

func TestNewRefusesPointers(t *testing.T) {
	t.Parallel()
	type withString struct {
		n int
		s string
	}
	type nested struct {
		a [2]struct{ p *int }
	}
	life := func(string) time.Duration { return time.Second }
	for name, mk := range map[string]func(){
		"string": func() {
			New(Config[string]{MaxEntries: 1, Lifetime: func(*string, string, int64) time.Duration { return life("") }})
		},
		"pointer": func() {
			New(Config[*int]{MaxEntries: 1, Lifetime: func(**int, string, int64) time.Duration { return life("") }})
		},
		"struct": func() {
			New(Config[withString]{MaxEntries: 1, Lifetime: func(*withString, string, int64) time.Duration { return life("") }})
		},
		"nested": func() {
			New(Config[nested]{MaxEntries: 1, Lifetime: func(*nested, string, int64) time.Duration { return life("") }})
		},
		"slice": func() {
			New(Config[[]byte]{MaxEntries: 1, Lifetime: func(*[]byte, string, int64) time.Duration { return life("") }})
		},
		"no size": func() { New(Config[int]{Lifetime: func(*int, string, int64) time.Duration { return life("") }}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("New did not panic")
				}
			}()
			mk()
		})
	}
}

// The point of the package: the garbage collector has no more to scan
// with 200,000 entries than with none, and the entries are a handful of
// heap objects, not one or more each.
func TestEntriesAreNotTraced(t *testing.T) {
	const n = 200_000
	samples := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	scan := func() uint64 {
		runtime.GC()
		metrics.Read(samples)
		return samples[0].Value.Uint64()
	}
	var ms runtime.MemStats
	objects := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapObjects
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "code" + strconv.Itoa(i)
	}
	scanBefore, objBefore := scan(), objects()
	c, _ := newCache(t, n, 0)
	for i, k := range keys {
		c.Set(k, val{id: int64(i)}, "https://example.com/some/landing/page/"+k)
	}
	scanAfter, objAfter := scan(), objects()
	if c.Len() < n*9/10 {
		t.Fatalf("Len %d, want about %d", c.Len(), n)
	}
	// The shards' maps have a directory and table headers with pointers,
	// a few KB each; the entries themselves add nothing.
	if grown := int64(scanAfter) - int64(scanBefore); grown > 4<<20 {
		t.Errorf("scannable heap grew by %d bytes for %d entries", grown, n)
	}
	if grown := int64(objAfter) - int64(objBefore); grown > n/20 {
		t.Errorf("%d more heap objects for %d entries", grown, n)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(keys)
}

// Readers, writers, deleters and a clearer at once (run with -race): a
// read never sees another key's value or string.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 256, 4) // small, so that evictions and compactions run
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20_000 {
				k := strconv.Itoa((i * (g + 1)) % 1000)
				switch i % 5 {
				case 0, 1:
					c.Set(k, val{id: int64(len(k))}, "v:"+k)
				case 2:
					if i%100 == 2 {
						c.Delete(k)
					} else {
						c.Replace(k, val{id: int64(len(k))}, "v:"+k)
					}
				default:
					if v, s, ok := c.Get(k); ok && (s != "v:"+k || v.id != int64(len(k))) {
						t.Errorf("Get(%q) = %+v %q", k, v, s)
						return
					}
				}
				if g == 0 && i%5000 == 0 {
					c.Clear()
				}
			}
		})
	}
	wg.Wait()
}

// An expired entry's slot is taken first and is not an eviction.
func TestExpiredIsNotAnEviction(t *testing.T) {
	t.Parallel()
	c, clock := newCache(t, 2, 1)
	c.Set("a", val{id: 1}, "x")
	clock.Advance(30 * time.Second)
	c.Set("b", val{id: 2}, "y")
	mustGet(t, c, "b", val{id: 2}, "y") // read: CLOCK would keep it anyway
	clock.Advance(31 * time.Second)     // a expired, b not
	c.Set("c", val{id: 3}, "z")
	mustMiss(t, c, "a")
	mustGet(t, c, "b", val{id: 2}, "y")
	mustGet(t, c, "c", val{id: 3}, "z")
	if n := c.Evictions(); n != 0 {
		t.Fatalf("Evictions %d, want 0", n)
	}
	c.Set("d", val{id: 4}, "w") // now a live entry must go
	if n := c.Evictions(); n != 1 {
		t.Fatalf("Evictions %d, want 1", n)
	}
}

// A cache holds exactly MaxEntries keys, however unevenly they fall into
// its shards, and evicts only past that.
func TestHoldsItsCapacity(t *testing.T) {
	t.Parallel()
	const n = 100_000
	c, _ := newCache(t, n, 0)
	if len(c.shards) < 64 {
		t.Fatalf("%d shards; the test wants many", len(c.shards))
	}
	for i := range n {
		c.Set("k"+strconv.Itoa(i), val{id: int64(i)}, "")
	}
	if c.Len() != n || c.Evictions() != 0 {
		t.Fatalf("Len %d, Evictions %d after %d keys", c.Len(), c.Evictions(), n)
	}
	c.Set("one more", val{}, "")
	if c.Len() != n || c.Evictions() != 1 {
		t.Fatalf("Len %d, Evictions %d after one more", c.Len(), c.Evictions())
	}
	for i := 0; ; i++ { // delete a key still there (one was evicted)
		if k := "k" + strconv.Itoa(i); func() bool { _, _, ok := c.Peek(k); return ok }() {
			c.Delete(k)
			break
		}
	}
	c.Set("again", val{}, "") // room again: no eviction
	if c.Len() != n || c.Evictions() != 1 {
		t.Fatalf("Len %d, Evictions %d after a delete and a set", c.Len(), c.Evictions())
	}
}
