package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoTime is the error of a lookup that was not started because its
// context had less time left than lookups have lately taken: it would
// have run out of time during the query.
var ErrNoTime = errors.New("pgstore: not enough time left for the lookup")

// Why lookups keep a budget: a query that runs out of time makes pgx
// close its connection (a cancel request to the server, then Terminate;
// the pool's slot is held until both are done) and the pool open a new
// one. When the database is slow and lookups queue for connections, the
// waiters at the head of the pool's queue are the ones with the least
// time left; without this check each of them would take a connection,
// run out of time in the query and cost the pool that connection, so
// the pool spent its slots closing and opening connections and went on
// answering almost nothing for seconds after the database was fast
// again (docs/faults.md, fault 10). With it, such a lookup fails at once
// (the edge answers 503, as it would have at its deadline) and leaves the
// connection to a waiter with time to use it.

// lookupClock learns how long lookups hold a connection: a moving
// average of the time from acquiring the connection to the end of the
// query, of the lookups that ran.
type lookupClock struct {
	typical atomic.Int64 // nanoseconds
}

// lookupTiming rides in a lookup's context from the pool's PrepareConn
// hook (when the connection was acquired) back to the lookup.
type lookupTiming struct {
	clock    *lookupClock
	acquired time.Time
}

type lookupTimingKey struct{}

// withLookup marks ctx as a lookup's, whose connection prepareConn
// checks against the clock and times.
func (c *lookupClock) withLookup(ctx context.Context) (context.Context, *lookupTiming) {
	t := &lookupTiming{clock: c}
	return context.WithValue(ctx, lookupTimingKey{}, t), t
}

// prepareConn is the pools' PrepareConn hook: a lookup whose context has
// less time left than lookups typically hold a connection fails with
// ErrNoTime and the connection goes back to the pool; any other query
// proceeds.
func prepareConn(ctx context.Context, _ *pgx.Conn) (bool, error) {
	t, ok := ctx.Value(lookupTimingKey{}).(*lookupTiming)
	if !ok {
		return true, nil
	}
	if err := t.clock.enough(ctx); err != nil {
		return true, err
	}
	t.acquired = time.Now()
	return true, nil
}

// enough fails with ErrNoTime when ctx has less time left than lookups
// typically hold a connection. Lookup checks it for each request before
// it joins a batch, whose query the pool checks again (the batch's
// deadline is the latest of its requests').
func (c *lookupClock) enough(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	left, typical := time.Until(deadline), time.Duration(c.typical.Load())
	if left < typical {
		return fmt.Errorf("%w (%v left, lookups take about %v)", ErrNoTime, left.Round(time.Millisecond), typical.Round(time.Millisecond))
	}
	return nil
}

// done adds the time since the connection was acquired to the clock; a
// lookup that never got a connection, or was refused one, adds nothing.
func (t *lookupTiming) done() {
	if t.acquired.IsZero() {
		return
	}
	d := int64(time.Since(t.acquired))
	for {
		old := t.clock.typical.Load()
		next := old + (d-old)/4 // the last few lookups weigh most
		if t.clock.typical.CompareAndSwap(old, next) {
			return
		}
	}
}
