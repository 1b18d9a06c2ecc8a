package flatcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// A load that the test releases by closing gate, counting its calls.
func gatedLoad(gate <-chan struct{}, calls *atomic.Int64, v val, s string, err error) func(context.Context, string) (val, string, error) {
	return func(context.Context, string) (val, string, error) {
		calls.Add(1)
		<-gate
		return v, s, err
	}
}

// loadWait bounds the waits for a load's progress.
const loadWait = 10 * time.Second

// waitLoading returns when a load has begun.
func waitLoading(t *testing.T, calls *atomic.Int64) {
	t.Helper()
	testenv.WaitFor(t, "the load to begin", loadWait, func() bool { return calls.Load() > 0 })
}

func TestLoadOnePerKey(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 100, 1)
	gate := make(chan struct{})
	var calls atomic.Int64
	load := gatedLoad(gate, &calls, val{id: 42}, "https://x.example/", nil)

	const waiters = 8
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			v, s, err := c.Load(t.Context(), "k", load)
			if err != nil || v.id != 42 || s != "https://x.example/" {
				t.Errorf("Load = %+v %q %v", v, s, err)
			}
		})
	}
	waitLoading(t, &calls)
	close(gate)
	wg.Wait()
	// Every waiter either shared the load or, arriving after it, hit the
	// cache: one load in all.
	if calls.Load() != 1 {
		t.Fatalf("%d loads, want 1", calls.Load())
	}
	mustGet(t, c, "k", val{id: 42}, "https://x.example/")

	// A hit does not load.
	if _, _, err := c.Load(t.Context(), "k", load); err != nil || calls.Load() != 1 {
		t.Fatalf("Load of a cached key: %v, %d loads", err, calls.Load())
	}
}

func TestLoadErrorIsNotCached(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 100, 1)
	boom := errors.New("boom")
	gate := make(chan struct{})
	close(gate)
	var calls atomic.Int64
	if _, _, err := c.Load(t.Context(), "k", gatedLoad(gate, &calls, val{}, "", boom)); !errors.Is(err, boom) {
		t.Fatalf("Load error %v, want boom", err)
	}
	mustMiss(t, c, "k")
	if _, _, err := c.Load(t.Context(), "k", gatedLoad(gate, &calls, val{id: 1}, "s", nil)); err != nil || calls.Load() != 2 {
		t.Fatalf("second Load: %v, %d loads", err, calls.Load())
	}
}

// A waiter whose context ends stops waiting; the load goes on for the
// others and is cached.
func TestLoadWaiterGivesUp(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 100, 1)
	gate := make(chan struct{})
	var calls atomic.Int64
	load := gatedLoad(gate, &calls, val{id: 7}, "s", nil)
	first := make(chan error, 1)
	go func() {
		_, _, err := c.Load(t.Context(), "k", load)
		first <- err
	}()
	waitLoading(t, &calls)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Load(ctx, "k", load); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v", err)
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatalf("the loading caller got %v", err)
	}
	mustGet(t, c, "k", val{id: 7}, "s")
}

// A Delete or Replace while a load runs keeps the load's (possibly stale)
// result out of the cache; the callers still get it.
func TestLoadLosesToInvalidation(t *testing.T) {
	t.Parallel()
	for name, invalidate := range map[string]func(*Cache[val]){
		"delete":  func(c *Cache[val]) { c.Delete("k") },
		"replace": func(c *Cache[val]) { c.Replace("k", val{id: 2}, "new") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := newCache(t, 100, 1)
			gate := make(chan struct{})
			var calls atomic.Int64
			done := make(chan error, 1)
			go func() {
				v, _, err := c.Load(t.Context(), "k", gatedLoad(gate, &calls, val{id: 1}, "old", nil))
				if err == nil && v.id != 1 {
					err = errors.New("the caller did not get the load's result")
				}
				done <- err
			}()
			waitLoading(t, &calls)
			invalidate(c)
			close(gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mustMiss(t, c, "k")
		})
	}
}

// A panicking load releases its waiters with an error and leaves no load
// registered behind.
func TestLoadPanic(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, 100, 1)
	gate := make(chan struct{})
	var calls atomic.Int64
	waiter := make(chan error, 1)
	go func() {
		defer func() { _ = recover() }()
		_, _, _ = c.Load(t.Context(), "k", func(ctx context.Context, k string) (val, string, error) {
			calls.Add(1)
			<-gate
			panic("load failed badly")
		})
	}()
	waitLoading(t, &calls)
	go func() {
		_, _, err := c.Load(t.Context(), "k", gatedLoad(gate, new(atomic.Int64), val{}, "", nil))
		waiter <- err
	}()
	waitWaiters(t, c, "k", 1)
	close(gate)
	if err := <-waiter; !errors.Is(err, errLoadPanicked) {
		t.Fatalf("waiter got %v, want errLoadPanicked", err)
	}
	waitLoads(t, c, 0)
	if _, _, err := c.Load(t.Context(), "k", gatedLoad(gate, &calls, val{id: 3}, "s", nil)); err != nil {
		t.Fatalf("Load after the panic: %v", err)
	}
}

// waitLoads returns once n loads are registered (0: none left).
func waitLoads(t *testing.T, c *Cache[val], n int) {
	t.Helper()
	testenv.WaitFor(t, fmt.Sprintf("%d loads", n), loadWait, func() bool {
		c.loadMu.Lock()
		defer c.loadMu.Unlock()
		return len(c.loads) == n
	})
}

// waitWaiters returns once n callers wait for key's load.
func waitWaiters(t *testing.T, c *Cache[val], key string, n int32) {
	t.Helper()
	testenv.WaitFor(t, fmt.Sprintf("%d waiters for %q", n, key), loadWait, func() bool {
		c.loadMu.Lock()
		cl := c.loads[key]
		c.loadMu.Unlock()
		return cl != nil && cl.waiters.Load() == n
	})
}
