package batcher

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

// gate is a Func that records its batches and holds each one until the
// test releases it.
type gate struct {
	mu      sync.Mutex
	batches [][]int
	started chan int      // a batch's size, when it starts
	release chan struct{} // one receive per batch
}

func newGate() *gate {
	return &gate{started: make(chan int, 100), release: make(chan struct{}, 100)}
}

func (g *gate) fn(ctx context.Context, keys []int, out []Result[int]) {
	g.mu.Lock()
	g.batches = append(g.batches, append([]int(nil), keys...))
	g.mu.Unlock()
	g.started <- len(keys)
	select {
	case <-g.release:
	case <-ctx.Done():
		for i := range out {
			out[i].Err = ctx.Err()
		}
		return
	}
	for i, k := range keys {
		if k < 0 {
			out[i].Err = errors.New("negative key")
			continue
		}
		out[i].Val = k * 10
	}
}

// waitQueued waits until n requests are queued behind the flights.
func waitQueued[K, V any](t *testing.T, b *Batcher[K, V], n int) {
	t.Helper()
	testenv.WaitFor(t, fmt.Sprintf("%d queued requests", n), 10*time.Second, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == n
	})
}

func TestLoneRequestGoesAtOnce(t *testing.T) {
	var calls atomic.Int32
	b := New(func(_ context.Context, keys []int, out []Result[int]) {
		calls.Add(1)
		for i, k := range keys {
			out[i].Val = k + 1
		}
	}, 8, 1)
	start := time.Now()
	v, err := b.Do(context.Background(), 41)
	if err != nil || v != 42 {
		t.Fatalf("Do = %d, %v; want 42, nil", v, err)
	}
	// The request ran its batch itself, on its own goroutine: no timer,
	// no hand-over, so it cannot have waited for anything.
	if calls.Load() != 1 {
		t.Fatalf("%d batches, want 1", calls.Load())
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a lone request took %v", d)
	}
}

func TestConcurrentRequestsShareBatches(t *testing.T) {
	g := newGate()
	b := New(g.fn, 4, 1)
	var wg sync.WaitGroup
	res := make([]int, 9)
	errs := make([]error, 9)
	wg.Go(func() { res[0], errs[0] = b.Do(context.Background(), 0) })
	if n := <-g.started; n != 1 {
		t.Fatalf("first batch has %d keys, want 1 (the lone request)", n)
	}
	for i := 1; i < 9; i++ {
		wg.Go(func() { res[i], errs[i] = b.Do(context.Background(), i) })
	}
	waitQueued(t, b, 8)
	for range 3 {
		g.release <- struct{}{}
	}
	wg.Wait()
	for i := range 9 {
		if errs[i] != nil || res[i] != i*10 {
			t.Errorf("request %d: %d, %v; want %d", i, res[i], errs[i], i*10)
		}
	}
	sizes := []int{}
	for _, bt := range g.batches {
		sizes = append(sizes, len(bt))
	}
	// 1 alone, then the 8 that queued meanwhile in batches of at most 4.
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 4 || sizes[2] != 4 {
		t.Fatalf("batch sizes %v, want [1 4 4]", sizes)
	}
}

func TestCancelOneDoesNotFailOthers(t *testing.T) {
	g := newGate()
	b := New(g.fn, 8, 1)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.Do(context.Background(), 0) })
	<-g.started

	// Two queue behind the first batch; one of them gives up while
	// queued, and one more gives up while its batch runs.
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	inBatchCtx, cancelInBatch := context.WithCancel(context.Background())
	var queuedErr, inBatchErr, otherErr error
	var other int
	wg.Go(func() { _, queuedErr = b.Do(queuedCtx, 1) })
	waitQueued(t, b, 1)
	wg.Go(func() { other, otherErr = b.Do(context.Background(), 3) })
	waitQueued(t, b, 2)
	inBatchDone := make(chan struct{})
	go func() {
		_, inBatchErr = b.Do(inBatchCtx, 2)
		close(inBatchDone)
	}()
	waitQueued(t, b, 3)
	cancelQueued()
	waitQueued(t, b, 2)
	g.release <- struct{}{} // the first batch ends; 3 leads the next, with 2
	if n := <-g.started; n != 2 {
		t.Fatalf("second batch has %d keys, want 2", n)
	}
	cancelInBatch()
	<-inBatchDone // 2 leaves its running batch at once
	g.release <- struct{}{}
	wg.Wait()
	if !errors.Is(queuedErr, context.Canceled) {
		t.Errorf("queued, cancelled request: %v, want context.Canceled", queuedErr)
	}
	if !errors.Is(inBatchErr, context.Canceled) {
		t.Errorf("cancelled request in a batch: %v, want context.Canceled", inBatchErr)
	}
	if otherErr != nil || other != 30 {
		t.Errorf("the other request of the batch: %d, %v; want 30, nil", other, otherErr)
	}
}

func TestLeaderCancelDoesNotFailOthers(t *testing.T) {
	g := newGate()
	b := New(g.fn, 8, 1)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.Do(context.Background(), 0) })
	<-g.started
	// 1 is handed the queue when the first batch ends, and leads the
	// second; it gives up during it, and 2 still gets its answer.
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	var v2 int
	var err2 error
	wg.Go(func() { _, _ = b.Do(leaderCtx, 1) })
	waitQueued(t, b, 1)
	wg.Go(func() { v2, err2 = b.Do(context.Background(), 2) })
	waitQueued(t, b, 2)
	g.release <- struct{}{}
	<-g.started
	cancelLeader()
	g.release <- struct{}{}
	wg.Wait()
	if err2 != nil || v2 != 20 {
		t.Fatalf("request 2: %d, %v; want 20, nil", v2, err2)
	}
}

func TestBatchCancelledWhenAllLeave(t *testing.T) {
	g := newGate()
	b := New(g.fn, 8, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	finished := make(chan struct{})
	go func() {
		_, err = b.Do(ctx, 1)
		close(finished)
	}()
	<-g.started
	cancel() // the batch's only request leaves: the batch's context ends
	<-finished
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	// The flight is free again: a new request goes at once.
	go func() { g.release <- struct{}{} }()
	if v, err := b.Do(context.Background(), 5); err != nil || v != 50 {
		t.Fatalf("Do after = %d, %v", v, err)
	}
}

func TestErrorsPropagatePerKey(t *testing.T) {
	g := newGate()
	b := New(g.fn, 8, 1)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.Do(context.Background(), 0) })
	<-g.started
	var errNeg, errPos error
	var pos int
	wg.Go(func() { _, errNeg = b.Do(context.Background(), -1) })
	wg.Go(func() { pos, errPos = b.Do(context.Background(), 7) })
	waitQueued(t, b, 2)
	g.release <- struct{}{}
	g.release <- struct{}{}
	wg.Wait()
	if errNeg == nil || errNeg.Error() != "negative key" {
		t.Errorf("bad key: %v, want its own error", errNeg)
	}
	if errPos != nil || pos != 70 {
		t.Errorf("good key of the same batch: %d, %v", pos, errPos)
	}
}

func TestDeadlineIsTheLatest(t *testing.T) {
	var got time.Time
	var hasDeadline bool
	b := New(func(ctx context.Context, keys []int, out []Result[int]) {
		got, hasDeadline = ctx.Deadline()
	}, 8, 1)
	d := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	defer cancel()
	if _, err := b.Do(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if !hasDeadline || !got.Equal(d) {
		t.Fatalf("batch deadline %v (%v), want %v", got, hasDeadline, d)
	}
}

func TestManyFlightsUnderLoad(t *testing.T) {
	var inFlight, most, batches, keys atomic.Int32
	b := New(func(_ context.Context, ks []int, out []Result[int]) {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		batches.Add(1)
		keys.Add(int32(len(ks)))
		for i, k := range ks {
			out[i].Val = k
		}
		inFlight.Add(-1)
	}, 16, 3)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 200 {
				k := w*1000 + i
				if v, err := b.Do(context.Background(), k); err != nil || v != k {
					t.Errorf("Do(%d) = %d, %v", k, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if most.Load() > 3 {
		t.Errorf("%d batches ran at once, want at most 3", most.Load())
	}
	if keys.Load() != 32*200 {
		t.Errorf("%d keys looked up, want %d", keys.Load(), 32*200)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.flights != 0 || len(b.queue) != 0 {
		t.Errorf("after: %d flights, %d queued; want none", b.flights, len(b.queue))
	}
	t.Logf("%d keys in %d batches", keys.Load(), batches.Load())
}

func TestPanicFailsTheBatchOnly(t *testing.T) {
	b := New(func(_ context.Context, keys []int, out []Result[int]) {
		if keys[0] == 13 {
			panic("unlucky")
		}
		out[0].Val = keys[0]
	}, 8, 1)
	if _, err := b.Do(context.Background(), 13); err == nil {
		t.Fatal("a batch that panicked answered no error")
	}
	// The flight was given back: the next request runs.
	if v, err := b.Do(context.Background(), 7); err != nil || v != 7 {
		t.Fatalf("Do after a panic = %d, %v", v, err)
	}
}

// TestLoneBatchHasItsRequestsContext: a batch of one runs on its request's
// own context (no flight context of its own), so the lookup sees that
// request's values and deadline.
func TestLoneBatchHasItsRequestsContext(t *testing.T) {
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	defer cancel()
	var got context.Context
	b := New(func(ctx context.Context, keys []int, out []Result[int]) { got = ctx }, 8, 1)
	if _, err := b.Do(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if d, ok := got.Deadline(); !ok || !d.Equal(deadline) {
		t.Fatalf("deadline %v, %v; want %v", d, ok, deadline)
	}
	if v := got.Value(key{}); v != "v" {
		t.Fatalf("value %v, want v", v)
	}
}
