package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
)

// Sequence blocks.
//
// The node takes numbers from its active block with one atomic add; the
// mutex is only taken to switch blocks and to account for refills. When
// less than a quarter of a block is left, the refill loop fetches the next
// block through Raft, so a create does not wait on Raft in the steady state.
// The block size doubles (up to maxBlockFactor times Config.BlockSize) while
// blocks run out faster than they are fetched, and halves back when demand
// is low. Numbers of a block that are never used (the node stops) are
// skipped, never handed out twice.

const (
	// maxBlockFactor bounds the adaptive block size.
	maxBlockFactor = 64
	// growWithin: a refill sooner than this after the last one doubles the
	// block size.
	growWithin = time.Second
	// shrinkAfter: a refill later than this after the last one halves it.
	shrinkAfter = 10 * time.Minute
	// blockWait bounds how long NextCode waits for a refill under way when
	// its block is used up; once a refill has been under way for longer
	// (Raft has no leader in reach), NextCode fails at once.
	blockWait = 2 * time.Second
	// refillBackoffMin and refillBackoffMax bound the retry delay of a
	// failing refill.
	refillBackoffMin = 50 * time.Millisecond
	refillBackoffMax = 5 * time.Second
)

// block is the half-open range [start, end) of sequence numbers.
type block struct{ start, end uint64 }

func (b block) size() uint64 { return b.end - b.start }

// active is the block numbers are taken from. next may run past end (every
// caller that finds the block used up has added one); it cannot wrap, since
// the FSM keeps sequence numbers below fsm.MaxSequence.
type active struct {
	next atomic.Uint64
	end  uint64
	// low is the number whose taker wakes the refill loop.
	low uint64
}

func (a *active) left() uint64 {
	if n := a.next.Load(); n < a.end {
		return a.end - n
	}
	return 0
}

// sequencer holds the node's sequence blocks.
type sequencer struct {
	cur atomic.Pointer[active]

	mu     sync.Mutex
	queue  []block // fetched ahead, in order
	queued uint64  // numbers in queue

	base, size, maxSize uint64
	lastRefill          time.Time

	inflight bool          // a refill is under way
	since    time.Time     // when the refill under way started (real time)
	failing  bool          // the last refill failed; the loop backs off
	starved  bool          // a caller found no number since the last refill
	done     chan struct{} // closed when the next refill ends
	closed   bool

	kick chan struct{} // wakes the refill loop
}

func (s *sequencer) init(base uint64) {
	s.base, s.size = base, base
	s.maxSize = min(max(base*maxBlockFactor, base), fsm.MaxBlockSize)
	s.kick = make(chan struct{}, 1)
	s.cur.Store(&active{})
}

// threshold is the number of numbers below which the node refills.
func (s *sequencer) thresholdLocked() uint64 { return max(s.size/4, 1) }

// lowLocked reports whether the node has less than a quarter of a block.
func (s *sequencer) lowLocked() bool {
	return s.cur.Load().left()+s.queued < s.thresholdLocked()
}

func (s *sequencer) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// available is how many numbers the node holds.
func (s *sequencer) available() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Load().left() + s.queued
}

// next takes the next sequence number: one atomic add in the steady state.
func (s *sequencer) next() (uint64, error) {
	a := s.cur.Load()
	v := a.next.Add(1) - 1
	if v < a.end {
		if v == a.low {
			s.wake()
		}
		return v, nil
	}
	return s.nextSlow(a)
}

// nextSlow switches to the next block. With none left it waits for the
// refills under way (at most blockWait in all); it returns ErrNoSequence
// when none comes in time or Raft refills are failing.
func (s *sequencer) nextSlow(a *active) (uint64, error) {
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		if err := s.advance(a, &deadline); err != nil {
			return 0, err
		}
		a = s.cur.Load()
		v := a.next.Add(1) - 1
		if v < a.end {
			if v == a.low {
				s.wake()
			}
			return v, nil
		}
	}
}

// advance replaces the used-up block a with the next one, waiting for a
// refill when there is none. It returns nil when the caller should try
// again.
func (s *sequencer) advance(a *active, deadline **time.Timer) error {
	s.mu.Lock()
	if s.cur.Load() != a {
		s.mu.Unlock() // another caller got there first
		return nil
	}
	if len(s.queue) > 0 {
		b := s.queue[0]
		s.queue = s.queue[1:]
		s.queued -= b.size()
		na := &active{end: b.end, low: max(b.start, b.end-min(s.thresholdLocked(), b.end))}
		na.next.Store(b.start)
		s.cur.Store(na)
		if s.lowLocked() {
			s.wake()
		}
		s.mu.Unlock()
		return nil
	}
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrNoSequence, ErrClosed)
	case s.failing && !s.inflight:
		s.mu.Unlock()
		return fmt.Errorf("%w: Raft refills are failing", ErrNoSequence)
	case s.inflight && time.Since(s.since) > blockWait:
		// The refill has been stuck for a while (no leader, or none in
		// reach): fail at once instead of making every caller wait.
		took := time.Since(s.since).Round(time.Millisecond)
		s.mu.Unlock()
		return fmt.Errorf("%w: the refill under way has waited %v for Raft", ErrNoSequence, took)
	}
	s.starved = true
	if s.done == nil {
		s.done = make(chan struct{})
	}
	done := s.done
	s.wake()
	s.mu.Unlock()

	if *deadline == nil {
		*deadline = time.NewTimer(blockWait)
	}
	select {
	case <-done:
		return nil
	case <-(*deadline).C:
		return fmt.Errorf("%w: no block within %v", ErrNoSequence, blockWait)
	}
}

// beginRefill marks a refill under way and returns the size to ask for.
func (s *sequencer) beginRefill(now time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastRefill.IsZero() {
		switch since := now.Sub(s.lastRefill); {
		case s.starved || since < growWithin:
			s.size = min(s.size*2, s.maxSize)
		case since > shrinkAfter:
			s.size = max(s.size/2, s.base)
		}
	}
	s.starved = false
	s.lastRefill = now
	s.inflight = true
	s.since = time.Now()
	return s.size
}

// endRefill adds the block fetched (if err is nil) and wakes the callers
// waiting for it.
func (s *sequencer) endRefill(b block, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight = false
	s.failing = err != nil
	if err == nil && b.size() > 0 {
		s.queue = append(s.queue, b)
		s.queued += b.size()
	}
	if s.done != nil {
		close(s.done)
		s.done = nil
	}
}

func (s *sequencer) needsRefill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.lowLocked()
}

// close makes next fail once the blocks are used up, and wakes waiters.
func (s *sequencer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cur.Store(&active{})
	s.queue, s.queued = nil, 0
	if s.done != nil {
		close(s.done)
		s.done = nil
	}
}

// NextCode returns the short code for the next number of the node's
// sequence block. It does not wait on Raft unless the block is used up
// while a refill is under way; with no block to be had (Raft unreachable)
// it returns an error wrapping ErrNoSequence.
func (n *Node) NextCode() (string, error) {
	seq, err := n.seq.next()
	if err != nil {
		return "", err
	}
	code, err := n.codec.Code(seq)
	if err != nil {
		return "", fmt.Errorf("cluster: code for sequence number %d: %w", seq, err)
	}
	return code, nil
}

// refill fetches one block through Raft.
func (n *Node) refill(ctx context.Context) error {
	size := n.seq.beginRefill(n.cfg.Clock())
	resp, err := n.propose(ctx, fsm.AllocateBlock{Node: n.cfg.NodeID, Size: size})
	var b block
	if err == nil {
		r := resp.(*fsm.BlockResult)
		b, err = block{start: r.Start, end: r.End}, r.Err
	}
	if err == nil && b.size() > 0 && n.cfg.RecordBlock != nil {
		if rerr := n.cfg.RecordBlock(ctx, b.end-1); rerr != nil {
			// Numbers of a block that is not recorded could repeat after a
			// restore: drop it, as a node that stops drops its rest.
			b, err = block{}, fmt.Errorf("record its mark: %w", rerr)
		}
	}
	if err != nil {
		err = fmt.Errorf("allocate a sequence block of %d: %w", size, err)
	}
	n.seq.endRefill(b, err)
	n.countGrant(grantSequenceBlock, err)
	return err
}

// refillLoop fetches blocks while the node runs low, until Close.
func (n *Node) refillLoop() {
	defer n.loops.Done()
	backoff := time.Duration(0)
	t := time.NewTimer(0)
	<-t.C
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.seq.kick:
		}
		for n.seq.needsRefill() {
			ctx, cancel := context.WithTimeout(n.ctx, applyTimeout)
			err := n.refill(ctx)
			cancel()
			if err == nil {
				backoff = 0
				continue
			}
			if n.ctx.Err() != nil {
				return
			}
			backoff = min(max(backoff*2, refillBackoffMin), refillBackoffMax)
			n.log.Warn("sequence block refill failed", "error", err, "retry_in", backoff, "numbers_left", n.seq.available())
			t.Reset(backoff)
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}
