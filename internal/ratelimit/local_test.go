package ratelimit

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestLocal(t *testing.T, l Limit, clock Clock) Limiter {
	t.Helper()
	lim, err := NewLocal(l, LocalOptions{Clock: clock})
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(lim.Close)
	return lim
}

// A clock that is not an otter.Clock works too (the cache gets one
// without ticks).
func TestLocalPlainClock(t *testing.T) {
	t.Parallel()
	testSlowRate(t, func(t *testing.T, l Limit, c Clock) Limiter {
		return newTestLocal(t, l, struct{ Clock }{c})
	})
}

func TestLocalRealClock(t *testing.T) {
	t.Parallel()
	lim, err := NewLocal(Limit{Rate: 1, Burst: 3}, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	for i := range 3 {
		d, _ := lim.Allow(context.Background(), "k")
		if !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d, _ := lim.Allow(context.Background(), "k")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("over the burst: %+v", d)
	}
}

// Idle keys vanish once their bucket would be full again, not before.
func TestLocalIdleKeysExpire(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := Limit{Rate: 10, Burst: 5} // full again 500 ms after the last request
	lim, err := NewLocal(l, LocalOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	for i := range 1000 {
		for range 5 { // empty every bucket
			allow(t, lim, strconv.Itoa(i))
		}
	}
	lim.cache.CleanUp()
	if n := lim.Len(); n != 1000 {
		t.Fatalf("Len = %d, want 1000", n)
	}
	clock.Advance(l.window()) // full again, but within otter's slack
	lim.cache.CleanUp()
	if n := lim.Len(); n != 1000 {
		t.Fatalf("Len right when full = %d, want 1000", n)
	}
	// Expired entries are unreadable at once, and their memory is freed
	// when otter's timer wheel turns past them: its finest buckets span
	// 1.07 s.
	clock.Advance(expirySlack + 1100*time.Millisecond)
	lim.cache.CleanUp()
	if n := lim.Len(); n != 0 {
		t.Fatalf("Len after expiry = %d, want 0", n)
	}
	// A forgotten key starts from a full bucket, which it had anyway.
	if d := allow(t, lim, "7"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("forgotten key: %+v", d)
	}
}

// A key whose bucket is never full again survives however long that lasts,
// far past the idle time after which it would be forgotten: each request,
// allowed or not, pushes its expiry back.
func TestLocalBusyKeyKept(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := Limit{Rate: 1, Burst: 3} // forgotten 3 s + slack after the last request
	lim := newTestLocal(t, l, clock).(*Local)
	for range 200 { // two requests a second for 100 s: twice the rate
		allow(t, lim, "k")
		clock.Advance(500 * time.Millisecond)
		lim.cache.CleanUp()
	}
	// A fresh bucket would allow this with 2 left.
	if d := allow(t, lim, "k"); d.Allowed && d.Remaining > 0 {
		t.Fatalf("state lost: %+v", d)
	}
}

// Concurrent requests on one key at one instant: exactly Burst succeed.
func TestLocalConcurrentExact(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	lim := newTestLocal(t, Limit{Rate: 1, Burst: 1000}, clock)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if d, _ := lim.Allow(context.Background(), "k"); d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 1000 {
		t.Fatalf("allowed %d of 4000, want exactly the burst of 1000", n)
	}
}

func TestLocalAllowDoesNotAllocate(t *testing.T) {
	lim := newTestLocal(t, Limit{Rate: 1e6, Burst: 10}, newFakeClock())
	ctx := context.Background()
	lim.Allow(ctx, "k")
	if n := testing.AllocsPerRun(1000, func() { lim.Allow(ctx, "k") }); n != 0 {
		t.Fatalf("Allow on a known key allocates %v times, want 0", n)
	}
}

// One million distinct keys through a limiter bounded to 50,000: the cache
// holds no more than the bound, and the heap grows accordingly. (The
// default bound of a million works the same way, 20 times bigger.)
func TestLocalMemoryBounded(t *testing.T) {
	const (
		maxKeys = 50_000
		keys    = 1_000_000
		workers = 2
	)
	clock := newFakeClock()
	lim, err := NewLocal(Limit{Rate: 1, Burst: 10}, LocalOptions{MaxKeys: maxKeys, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	heapBefore := heapInUse()

	var (
		wg      sync.WaitGroup
		maxSeen atomic.Int64
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			buf := []byte("client:")
			for i := w; i < keys; i += workers {
				key := string(strconv.AppendInt(buf[:7], int64(i), 10))
				if d, _ := lim.Allow(ctx, key); !d.Allowed || d.Remaining != 9 {
					t.Errorf("new key %s: %+v", key, d)
					return
				}
				if i%10_000 == w {
					if n := int64(lim.Len()); n > maxSeen.Load() {
						maxSeen.Store(n)
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	lim.cache.CleanUp()
	n := lim.Len()
	heapAfter := heapInUse()
	grown := int64(heapAfter) - int64(heapBefore)
	t.Logf("%d keys in %v (%v/key); cache size %d (max seen while running %d, bound %d); heap grew %.1f MB, %d B per cached key",
		keys, elapsed.Round(time.Millisecond), elapsed/keys, n, maxSeen.Load(), maxKeys, float64(grown)/1e6, grown/int64(max(n, 1)))
	if n > maxKeys {
		t.Fatalf("cache holds %d keys, bound %d", n, maxKeys)
	}
	// While running, otter may be a write buffer (a few thousand entries)
	// behind its bound.
	if m := maxSeen.Load(); m > maxKeys+maxKeys/10 {
		t.Fatalf("cache reached %d keys while running, bound %d", m, maxKeys)
	}
	if grown > maxKeys*1024 {
		t.Fatalf("heap grew by %d bytes for %d keys: more than 1 KB a key", grown, maxKeys)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestNewLocalErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewLocal(Limit{Rate: 0, Burst: 1}, LocalOptions{}); err == nil {
		t.Error("NewLocal accepted a zero rate")
	}
	if _, err := NewLocal(Limit{Rate: 1, Burst: 1}, LocalOptions{MaxKeys: -1}); err == nil {
		t.Error("NewLocal accepted a negative MaxKeys")
	}
}

// Peek tells what Allow would decide without spending anything.
func TestLocalPeek(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	lim, err := NewLocal(Limit{Rate: 10, Burst: 3}, LocalOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	ctx := context.Background()
	if d := lim.Peek("k"); !d.Allowed || d.Remaining != 3 || d.Reset != 0 {
		t.Fatalf("unknown key: %+v", d)
	}
	if lim.Len() != 0 {
		t.Fatalf("Peek stored a key: %d", lim.Len())
	}
	for range 3 {
		if d := lim.Peek("k"); !d.Allowed {
			t.Fatalf("Peek before the burst is spent: %+v", d)
		}
		if d, _ := lim.Allow(ctx, "k"); !d.Allowed {
			t.Fatalf("Allow within the burst: %+v", d)
		}
	}
	peek := lim.Peek("k")
	allow, _ := lim.Allow(ctx, "k")
	if peek != allow || peek.Allowed || peek.RetryAfter != 100*time.Millisecond {
		t.Fatalf("spent: Peek %+v, Allow %+v; want the same refusal after 100ms", peek, allow)
	}
	clock.Advance(100 * time.Millisecond)
	if d := lim.Peek("k"); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after one interval: %+v", d)
	}
	if d, _ := lim.Allow(ctx, "k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("Allow after one interval: %+v", d)
	}
}
