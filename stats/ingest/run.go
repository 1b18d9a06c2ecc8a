package ingest

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/shortify/shortify/stats/statsdb"
	"go.opentelemetry.io/otel/trace"
)

// pollWhileWriting is how long a poll waits for records while a batch is
// written: when none come, the batch in flight is waited for and a
// rebalance let in.
const pollWhileWriting = 50 * time.Millisecond

// rebalanceEvery (or two Lingers if longer) is the longest a busy consumer
// holds a rebalance back: then it waits for its batch in flight instead of
// polling the next, and lets the rebalance in. Far below the group's
// rebalance timeout (a minute by default).
const rebalanceEvery = 5 * time.Second

// Run consumes until ctx is done or the client fails, then leaves the
// group and closes the client. It returns nil after ctx is done.
//
// # Pipelining
//
// While a batch is written (by a goroutine of its own), the next one is
// polled and aggregated, when records come: the consumer's CPU work
// and the database's overlap. The next batch starts from the offsets the
// batch in flight will store; it is written only once that batch has
// committed, and dropped with it (both rewound to the database's offsets)
// if that batch fails. Rebalances stay blocked throughout (BlockRebalance-
// OnPoll), so they are let in whenever no batch is in flight: when no
// records come within pollWhileWriting, after a failure, and at least
// every rebalanceEvery, when the batch in flight is waited for before the
// next poll.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.CloseAllowingRebalance() // Close would wait for a blocked rebalance forever
	ws := [2]*batcher{newBatcher(c), newBatcher(c)}
	cur := 0
	var fl *flight
	lastAllow := time.Now()
	// allow waits for the batch in flight, then lets a rebalance in.
	allow := func() error {
		err := c.settle(ctx, fl, nil)
		fl = nil
		if errors.Is(err, errCrashed) {
			return err
		}
		c.cl.AllowRebalance()
		lastAllow = time.Now()
		if err != nil {
			c.pause(ctx)
		}
		return nil
	}
	for {
		if fl != nil && (c.cfg.Linger <= 0 || time.Since(lastAllow) >= max(rebalanceEvery, 2*c.cfg.Linger)) {
			// Time to let rebalances in.
			if err := allow(); err != nil {
				return err
			}
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if fl != nil {
			// With a batch in flight, wait for records only briefly:
			// rebalances are not held while there is nothing to do.
			pctx, cancel = context.WithTimeout(ctx, pollWhileWriting)
		}
		fetches := c.cl.PollRecords(pctx, c.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return c.shutdown(ctx, fl)
		}
		failed := c.fetchFailed(fetches)
		if fetches.NumRecords() == 0 {
			if err := allow(); err != nil {
				return err
			}
			if failed { // a missing topic, say: do not spin on it
				c.pause(ctx)
			}
			continue
		}
		w := ws[cur]
		start := time.Now()
		view := c.startingOffsets(fl)
		w.reset()
		w.add(fetches, view)
		links := traceLinks(nil, fetches) // tracing.go
		c.aggregating.Add(int64(time.Since(start)))
		// Linger: poll on until the batch is full or Linger has passed.
		deadline := start.Add(c.cfg.Linger)
		for w.records < c.cfg.MaxBatchEvents && time.Until(deadline) > 0 {
			pctx, cancel := context.WithDeadline(ctx, deadline)
			more := c.cl.PollRecords(pctx, min(c.cfg.MaxPollRecords, c.cfg.MaxBatchEvents-w.records))
			cancel()
			if ctx.Err() != nil || more.IsClientClosed() {
				return c.shutdown(ctx, fl) // this batch is dropped: nothing of it was written
			}
			c.fetchFailed(more)
			at := time.Now()
			w.add(more, view)
			links = traceLinks(links, more)
			c.aggregating.Add(int64(time.Since(at)))
		}
		if c.crashed(crashAfterPoll) {
			return errCrashed
		}
		if err := c.settle(ctx, fl, w); err != nil {
			fl = nil
			if errors.Is(err, errCrashed) {
				return err
			}
			c.cl.AllowRebalance()
			lastAllow = time.Now()
			c.pause(ctx)
			continue
		}
		fl = c.launch(ctx, w, links)
		cur ^= 1
	}
}

// startingOffsets returns the offsets the next batch's partitions start
// from: the stored ones, or those the batch in flight (if any) will store.
func (c *Consumer) startingOffsets(fl *flight) map[tp]int64 {
	c.mu.Lock()
	view := maps.Clone(c.positions)
	c.mu.Unlock()
	if fl != nil {
		for _, o := range fl.b.Offsets {
			k := tp{o.Topic, o.Partition}
			if _, ok := view[k]; ok {
				view[k] = o.Next
			}
		}
	}
	return view
}

// flight is a batch being written by a goroutine of its own.
type flight struct {
	w      *batcher
	b      *statsdb.Batch
	clicks int
	done   chan error // the write's outcome, once
}

// launch finishes the batch's aggregation and starts its write.
func (c *Consumer) launch(ctx context.Context, w *batcher, links []trace.Link) *flight {
	start := time.Now()
	b, n := w.finish()
	c.aggregating.Add(int64(time.Since(start)))
	f := &flight{w: w, b: b, clicks: n, done: make(chan error, 1)}
	if len(b.Offsets) == 0 {
		f.done <- nil
		return f
	}
	// A batch in flight is finished when ctx ends (a shutdown), within
	// WriteTimeout: cancelling it would only make the next owner of the
	// partitions consume it again.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.WriteTimeout)
	killed := c.crashed(crashDuringWrite)
	if killed {
		// Cancel the transaction at a random moment of its life.
		var cancelSoon context.CancelFunc
		wctx, cancelSoon = context.WithTimeout(wctx, time.Duration(rand.Int64N(int64(20*time.Millisecond))))
		cancelWrite := cancel
		cancel = func() { cancelSoon(); cancelWrite() }
	}
	go func() {
		defer cancel()
		start := time.Now()
		wctx, span := startWrite(wctx, links, n) // tracing.go
		err := c.cfg.DB.Write(wctx, b)
		endWrite(span, err)
		c.writing.Add(int64(time.Since(start)))
		if killed && wctx.Err() != nil {
			// Killed midway: whether or not the commit reached the
			// database, the process is gone; the next owner reads the
			// stored offsets.
			err = errCrashed
		}
		f.done <- err
	}()
	return f
}

// settle waits for the batch in flight, if any, and accounts for it: when
// it committed, its partitions' positions advance; when it failed, its
// partitions and those of next (a batch built meanwhile, dropped with it)
// are rewound to the offsets in the database, and the error is returned.
func (c *Consumer) settle(ctx context.Context, f *flight, next *batcher) error {
	if f == nil {
		return nil
	}
	err := <-f.done
	if errors.Is(err, errCrashed) {
		return err
	}
	c.observe(ctx, f, err)
	if err == nil {
		c.mu.Lock()
		for _, o := range f.b.Offsets {
			if _, ok := c.positions[tp{o.Topic, o.Partition}]; ok {
				c.positions[tp{o.Topic, o.Partition}] = o.Next
			}
		}
		c.mu.Unlock()
		if len(f.b.Offsets) > 0 {
			c.events.Add(int64(f.clicks))
			c.batches.Add(1)
			c.commitToKafka(ctx, f.b.Offsets)
		}
	} else if ctx.Err() == nil {
		c.failed.Add(1)
		c.cfg.Logger.Warn("ingest: batch not written, consuming it again", "err", err)
		offs, first := f.b.Offsets, f.w.first
		if next != nil {
			// The next batch's records are dropped too: its partitions
			// go back as well (to where it started, where the database
			// holds nothing for them).
			first = maps.Clone(first)
			for _, o := range next.offsets {
				k := tp{o.Topic, o.Partition}
				if _, ok := first[k]; !ok {
					first[k] = next.first[k]
					offs = append(offs[:len(offs):len(offs)], o)
				}
			}
		}
		c.rewind(ctx, offs, first)
	}
	if c.crashed(crashAfterWrite) {
		return errCrashed
	}
	return err
}

// shutdown finishes the batch in flight and lets the client leave.
func (c *Consumer) shutdown(ctx context.Context, f *flight) error {
	err := c.settle(ctx, f, nil)
	c.cl.AllowRebalance()
	if errors.Is(err, errCrashed) {
		return err
	}
	return nil
}
