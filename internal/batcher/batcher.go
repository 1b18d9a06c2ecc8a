// Package batcher coalesces concurrent single-key lookups into batches,
// so that requests that miss the edge's L1 at the same time share one
// round trip to Redis (a pipeline) or PostgreSQL (one query) instead of
// paying one each (issue 19).
//
// A request that finds fewer than MaxFlights batches in flight starts a
// batch at once, with whatever is queued: a lone request is never
// delayed. Requests that arrive while every flight is busy queue, and
// the first flight to end hands the queue (up to MaxBatch keys) to the
// first queued request, which runs it as the next batch on its own
// goroutine. No goroutine is started: batches run on their callers'.
package batcher

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Result is one key's answer in a batch.
type Result[V any] struct {
	Val V
	Err error
}

// Func looks up keys in one round trip and sets out[i] to the answer
// for keys[i] (len(out) == len(keys)); an error of the batch as a whole
// goes in every out[i].Err. ctx ends when the last deadline of the
// batch's requests passes, or when every one of them has given up.
type Func[K, V any] func(ctx context.Context, keys []K, out []Result[V])

// Batcher runs Func for concurrent Do calls, a batch at a time per
// flight. It is safe for concurrent use and holds no goroutine.
type Batcher[K, V any] struct {
	fn         Func[K, V]
	maxBatch   int
	maxFlights int

	mu      sync.Mutex // guards the fields below and every call's state
	queue   []*call[K, V]
	flights int // batches running
}

// New returns a Batcher of fn that puts at most maxBatch keys in a batch
// and runs at most maxFlights batches at once (each at least 1).
func New[K, V any](fn Func[K, V], maxBatch, maxFlights int) *Batcher[K, V] {
	return &Batcher[K, V]{fn: fn, maxBatch: max(maxBatch, 1), maxFlights: max(maxFlights, 1)}
}

const (
	queued = iota // in Batcher.queue
	lead          // handed the queue: runs the next batch
	taken         // in a running batch
	done          // its result is set, or it left its batch
)

type call[K, V any] struct {
	ctx   context.Context
	key   K
	res   Result[V]
	state int           // under Batcher.mu
	wake  chan struct{} // one send: state became lead or done
	batch *flight       // its batch, once taken
}

// flight is one running batch: its context, cancelled once every
// request in it has left.
type flight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	waiting int // requests of the batch still waiting, under Batcher.mu
}

// Do looks up key in a batch and returns its answer, or ctx's error if
// ctx ends first. A request that gives up does not fail the others in
// its batch.
func (b *Batcher[K, V]) Do(ctx context.Context, key K) (V, error) {
	c := &call[K, V]{ctx: ctx, key: key}
	b.mu.Lock()
	if b.flights < b.maxFlights {
		b.flights++
		batch := b.takeLocked(c)
		b.mu.Unlock()
		return b.run(c, batch)
	}
	c.wake = make(chan struct{}, 1)
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	select {
	case <-c.wake:
	case <-ctx.Done():
	}
	var zero V
	b.mu.Lock()
	switch c.state {
	case queued: // gave up before its turn
		b.removeLocked(c)
		b.mu.Unlock()
		return zero, ctx.Err()
	case lead:
		if ctx.Err() != nil { // gave up as it was handed the queue: pass it on
			b.handOffLocked()
			b.mu.Unlock()
			return zero, ctx.Err()
		}
		batch := b.takeLocked(c)
		b.mu.Unlock()
		return b.run(c, batch)
	case taken: // its batch runs on for the others
		c.state = done
		b.leaveLocked(c.batch)
		b.mu.Unlock()
		return zero, ctx.Err()
	}
	b.mu.Unlock()
	return c.res.Val, c.res.Err // done
}

// takeLocked makes a batch of first and the head of the queue, up to
// maxBatch requests, with its flight.
func (b *Batcher[K, V]) takeLocked(first *call[K, V]) []*call[K, V] {
	n := min(len(b.queue), b.maxBatch-1)
	batch := make([]*call[K, V], 0, n+1)
	batch = append(batch, first)
	batch = append(batch, b.queue[:n]...)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	f := &flight{waiting: len(batch)}
	if len(batch) == 1 {
		// A batch of one request is that request's own round trip: its
		// context already has the flight's values, deadline and
		// cancellation (it ends when its only request leaves), so it
		// needs no context, timer or watcher of its own. Most batches
		// are of one when misses are few (issue 19's profile: 72%).
		f.ctx, f.cancel = first.ctx, func() {}
	} else {
		f.ctx, f.cancel = flightContext(batch)
	}
	for _, c := range batch {
		c.state, c.batch = taken, f
	}
	return batch
}

// run runs batch on the caller's goroutine (self is its first request),
// delivers the answers, and hands the queue on to the next batch.
func (b *Batcher[K, V]) run(self *call[K, V], batch []*call[K, V]) (V, error) {
	f := self.batch
	// self waits for the batch whatever happens, but its giving up
	// counts like another request's (alone, its context is the
	// flight's: see takeLocked).
	stop := func() bool { return false }
	if len(batch) > 1 {
		stop = context.AfterFunc(self.ctx, func() {
			b.mu.Lock()
			b.leaveLocked(f)
			b.mu.Unlock()
		})
	}
	keys := make([]K, len(batch))
	for i, c := range batch {
		keys[i] = c.key
	}
	out := make([]Result[V], len(batch))
	b.call(f.ctx, keys, out)
	stop()
	f.cancel()

	b.mu.Lock()
	for i, c := range batch {
		if c.state != taken {
			continue // left before the answer
		}
		c.res, c.state = out[i], done
		if c != self {
			c.wake <- struct{}{}
		}
	}
	b.handOffLocked()
	b.mu.Unlock()
	return self.res.Val, self.res.Err
}

// call runs fn; a panic in it fails every request of the batch instead
// of leaving them, and the flight, waiting forever.
func (b *Batcher[K, V]) call(ctx context.Context, keys []K, out []Result[V]) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("batcher: lookup of %d keys panicked: %v", len(keys), p)
			for i := range out {
				out[i] = Result[V]{Err: err}
			}
		}
	}()
	b.fn(ctx, keys, out)
}

// flightContext is the context of batch: the first request's values
// (its trace, say), none of its requests' cancellation, and the latest
// of their deadlines (none if one has none).
func flightContext[K, V any](batch []*call[K, V]) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	if latest.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, latest)
}

// leaveLocked notes that a request of f gave up; the last one to leave
// cancels f, whose answer no one then waits for.
func (b *Batcher[K, V]) leaveLocked(f *flight) {
	if f.waiting--; f.waiting == 0 {
		f.cancel()
	}
}

// handOffLocked ends a flight: the first queued request is woken to run
// the next batch, or the flight is freed when no one is queued.
func (b *Batcher[K, V]) handOffLocked() {
	if len(b.queue) == 0 {
		b.flights--
		return
	}
	next := b.queue[0]
	b.queue = append(b.queue[:0], b.queue[1:]...)
	next.state = lead
	next.wake <- struct{}{}
}

// removeLocked takes c out of the queue.
func (b *Batcher[K, V]) removeLocked(c *call[K, V]) {
	for i, q := range b.queue {
		if q == c {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return
		}
	}
}
