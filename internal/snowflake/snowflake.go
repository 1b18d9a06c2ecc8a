// Package snowflake makes Shortify's internal IDs: 64-bit, time-ordered,
// unique across the cluster without coordination per ID.
//
// An ID is a positive int64 laid out, from the most significant bit:
//
//	0 | 41 bits: milliseconds since Epoch | 10 bits: worker | 12 bits: sequence
//
// Worker IDs are leased from the control plane, never configured by hand,
// so two live generators never share one. A lease carries the last
// timestamp the worker ID's previous holder used; New starts after it, so
// a reused worker ID never goes back in time and never repeats an ID.
//
// A Generator never waits. Within a millisecond it counts the sequence up;
// when the sequence runs out, or when the clock stands still or goes
// backwards, it moves on to the next millisecond itself, so its timestamps
// may run ahead of the clock for a while. LastMs reports how far, and the
// control plane keeps it with the lease.
package snowflake

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Field widths and limits of an ID.
const (
	TimestampBits = 41
	WorkerBits    = 10
	SequenceBits  = 12

	// MaxTimestamp is the last millisecond after Epoch an ID can hold,
	// in 2094.
	MaxTimestamp = 1<<TimestampBits - 1
	// MaxWorker is the largest worker ID.
	MaxWorker = 1<<WorkerBits - 1
	// MaxSequence is the largest sequence number within a millisecond.
	MaxSequence = 1<<SequenceBits - 1
)

// EpochUnixMilli is Epoch in milliseconds since the Unix epoch.
const EpochUnixMilli = 1_735_689_600_000

// Epoch is the zero of ID timestamps: 2025-01-01T00:00:00Z. It is a
// variable only because Go has no time constants; nothing reads it back.
var Epoch = time.UnixMilli(EpochUnixMilli).UTC()

// Errors, wrapped with details; test for them with errors.Is.
var (
	// ErrInvalidWorker means a worker ID above MaxWorker.
	ErrInvalidWorker = errors.New("snowflake: invalid worker ID")
	// ErrTimeOverflow means the timestamp no longer fits its 41 bits:
	// the clock (or the generator, running ahead of it) is past
	// MaxTimestamp.
	ErrTimeOverflow = errors.New("snowflake: timestamp past the end of the ID space")
)

// Clock tells the time. Tests inject one; nil means time.Now.
type Clock func() time.Time

// Generator issues IDs for one worker ID. It is safe for concurrent use.
type Generator struct {
	worker int64
	clock  Clock
	// last holds the timestamp and sequence of the last ID issued, as
	// timestamp<<SequenceBits | sequence: the ID without its worker
	// field. Keeping both in one word lets Next advance them with a single
	// compare-and-swap, and last+1 carries a full sequence over into the
	// next millisecond by itself.
	last atomic.Int64
}

// New returns a Generator for worker (at most MaxWorker) whose IDs all have
// timestamps above notAfterMs, in milliseconds since Epoch: the last
// timestamp used under this worker ID, from its lease. Pass -1 for a worker
// ID never used before; any negative value means the same. A nil clock
// means time.Now.
func New(worker uint16, notAfterMs int64, clock Clock) (*Generator, error) {
	if worker > MaxWorker {
		return nil, fmt.Errorf("%w: %d, want 0 to %d", ErrInvalidWorker, worker, MaxWorker)
	}
	if clock == nil {
		clock = time.Now
	}
	// Clamping keeps the shift below in range; every value above
	// MaxTimestamp leaves no ID to issue, and Next says so.
	notAfterMs = min(max(notAfterMs, -1), MaxTimestamp)
	g := &Generator{worker: int64(worker), clock: clock}
	// As if the previous holder had used up notAfterMs's whole sequence,
	// so the first ID cannot be at notAfterMs.
	g.last.Store(notAfterMs<<SequenceBits | MaxSequence)
	return g, nil
}

// Next returns a new ID, greater than every ID this Generator issued
// before. It fails, wrapping ErrTimeOverflow, once the timestamp would pass
// MaxTimestamp.
func (g *Generator) Next() (int64, error) {
	// Read the clock once, outside the loop: a retry after losing a race
	// only needs to step past the winner, and the time read is still a
	// valid lower bound.
	now := g.clock().UnixMilli() - EpochUnixMilli
	if now > MaxTimestamp {
		return 0, fmt.Errorf("%w: clock reads %d ms after the epoch", ErrTimeOverflow, now)
	}
	// A clock before Epoch can only lose to last+1 below; clamping keeps
	// the shift from overflowing for absurd readings.
	now = max(now, 0)
	for {
		last := g.last.Load()
		// The next slot after the last ID, or the start of the current
		// millisecond if the clock has moved past it. A clock that went
		// backwards (or before Epoch) loses to last+1, so time never
		// goes back.
		next := max(last+1, now<<SequenceBits)
		if next>>SequenceBits > MaxTimestamp {
			return 0, fmt.Errorf("%w: issued up to %d ms after the epoch", ErrTimeOverflow, last>>SequenceBits)
		}
		if g.last.CompareAndSwap(last, next) {
			ts, seq := next>>SequenceBits, next&MaxSequence
			return ts<<(WorkerBits+SequenceBits) | g.worker<<SequenceBits | seq, nil
		}
	}
}

// LastMs returns the highest timestamp, in milliseconds since Epoch, that
// this Generator has used, or the notAfterMs it started from if higher
// (-1 for a fresh worker ID that has issued nothing yet).
// The control plane keeps it when renewing the lease, for the next holder
// of the worker ID.
func (g *Generator) LastMs() int64 {
	return g.last.Load() >> SequenceBits
}

// Parse splits an ID made by a Generator into its timestamp (in UTC),
// worker ID and sequence number.
func Parse(id int64) (ts time.Time, worker uint16, seq uint16) {
	ms := id >> (WorkerBits + SequenceBits)
	worker = uint16((id >> SequenceBits) & MaxWorker)
	seq = uint16(id & MaxSequence)
	return time.UnixMilli(EpochUnixMilli + ms).UTC(), worker, seq
}

// IDAt returns the smallest ID whose timestamp is t (truncated to the
// millisecond), so that a creation-time range maps onto an ID range:
// IDs created at or after t are >= IDAt(t). Times before Epoch give 0;
// times past the 41-bit range give the largest timestamp's first ID.
func IDAt(t time.Time) int64 {
	ms := t.UnixMilli() - EpochUnixMilli
	switch {
	case ms < 0:
		return 0
	case ms > MaxTimestamp:
		ms = MaxTimestamp
	}
	return ms << (WorkerBits + SequenceBits)
}
