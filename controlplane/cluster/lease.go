package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/snowflake"
)

// How the node keeps its worker-ID lease.
//
// The FSM tells the holder when its lease ends (expiresMs, in Snowflake
// milliseconds) and, when the worker ID changes hands, gives the next holder
// a start after that time. So the holder fences itself: it issues no ID
// whose timestamp is after its lease's end, and none once its clock has
// passed it. Every ID of the next holder is then later than every ID of
// this one, whatever the two clocks say.

// revoked is the fence of a lease that must issue nothing more.
const revoked = math.MinInt64

// lease is a worker-ID lease and the generator that uses it.
type lease struct {
	worker uint16
	gen    uint64
	ids    *snowflake.Generator
	// until is the lease's end in Snowflake milliseconds: no ID may carry a
	// later timestamp. Renewals move it forward; revoke sets it to revoked.
	until atomic.Int64
}

// extend moves the fence forward to ms, unless the lease was revoked.
func (l *lease) extend(ms int64) {
	for {
		old := l.until.Load()
		if old == revoked || ms <= old || l.until.CompareAndSwap(old, ms) {
			return
		}
	}
}

// leases holds the node's current lease.
type leases struct {
	p atomic.Pointer[lease]
}

func (ls *leases) current() *lease { return ls.p.Load() }

// drop revokes l if it is still the current lease.
func (ls *leases) drop(l *lease) {
	ls.p.CompareAndSwap(l, nil)
	l.until.Store(revoked)
}

// revoke removes the current lease and fences it off. Every ID issued
// under it was issued before revoke returned or carries a timestamp at most
// the generator's LastMs read after it.
func (ls *leases) revoke() *lease {
	l := ls.p.Swap(nil)
	if l != nil {
		l.until.Store(revoked)
	}
	return l
}

// nowMs is the injected clock in Snowflake milliseconds, the FSM's timeline.
func (n *Node) nowMs() int64 {
	return n.cfg.Clock().UnixMilli() - snowflake.EpochUnixMilli
}

// wallTime turns Snowflake milliseconds back into a time.
func (n *Node) wallTime(ms int64) time.Time {
	return time.UnixMilli(ms + snowflake.EpochUnixMilli)
}

// idMs is the timestamp of a Snowflake ID, in Snowflake milliseconds.
func idMs(id int64) int64 {
	return id >> (snowflake.WorkerBits + snowflake.SequenceBits)
}

// leaseValid returns nil when the current lease lets the node issue IDs now.
func (n *Node) leaseValid() error {
	l := n.leases.current()
	if l == nil {
		if n.ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrNoLease, ErrClosed)
		}
		return ErrNoLease
	}
	if until := l.until.Load(); n.nowMs() > until {
		n.kickRenew()
		return fmt.Errorf("%w: worker %d lease ran out at %s", ErrNoLease, l.worker, n.wallTime(until).UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// kickRenew wakes the renewal loop: the lease ran out by the clock before
// the loop's timer (a clock jump, a long pause), so renewing cannot wait.
func (n *Node) kickRenew() {
	select {
	case n.renewKick <- struct{}{}:
	default:
	}
}

// NewID returns a new Snowflake ID made with the node's leased worker ID.
// It returns an error wrapping ErrNoLease when the node holds no valid lease
// (renewal failed for a whole TTL, or the node is closed).
func (n *Node) NewID() (int64, error) {
	l := n.leases.current()
	if l == nil {
		return 0, n.leaseValid()
	}
	id, err := l.ids.Next()
	if err != nil {
		return 0, fmt.Errorf("cluster: new ID with worker %d: %w", l.worker, err)
	}
	// An ID's timestamp is never behind the clock, so this also fails once
	// the clock has passed the lease's end; the generator may run ahead of
	// the clock, and it must still stay inside the lease.
	if ms := idMs(id); ms > l.until.Load() {
		if err := n.leaseValid(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: worker %d is issuing IDs at %s, past its lease", ErrNoLease, l.worker, n.wallTime(ms).UTC().Format(time.RFC3339Nano))
	}
	return id, nil
}

// acquireLease leases a worker ID through Raft and makes it current.
func (n *Node) acquireLease(ctx context.Context) (err error) {
	defer func() { n.countGrant(grantWorkerID, err) }()
	ttl := n.cfg.LeaseTTL.Milliseconds()
	resp, err := n.propose(ctx, fsm.AcquireLease{Node: n.cfg.NodeID, NowMs: n.nowMs(), TTLMs: ttl})
	if err != nil {
		return fmt.Errorf("acquire worker-ID lease: %w", err)
	}
	r := resp.(*fsm.LeaseResult)
	if r.Err != nil {
		return fmt.Errorf("acquire worker-ID lease: %w", r.Err)
	}
	ids, err := snowflake.New(r.Worker, r.NotAfterMs, snowflake.Clock(n.cfg.Clock))
	if err != nil {
		l := &lease{worker: r.Worker, gen: r.Gen}
		n.releaseLease(ctx, l, r.NotAfterMs)
		return fmt.Errorf("snowflake generator for worker %d: %w", r.Worker, err)
	}
	l := &lease{worker: r.Worker, gen: r.Gen, ids: ids}
	l.until.Store(r.ExpiresMs)
	n.leases.p.Store(l)
	n.log.Info("leased worker ID", "worker_id", r.Worker, "generation", r.Gen,
		"not_after", n.wallTime(r.NotAfterMs), "expires", n.wallTime(r.ExpiresMs))
	return nil
}

// renewLease renews the current lease, or acquires one when the node has
// none or has lost it.
func (n *Node) renewLease(ctx context.Context) error {
	l := n.leases.current()
	if l == nil {
		return n.acquireLease(ctx)
	}
	cmd := fsm.RenewLease{
		Node:   n.cfg.NodeID,
		Worker: l.worker,
		Gen:    l.gen,
		NowMs:  n.nowMs(),
		TTLMs:  n.cfg.LeaseTTL.Milliseconds(),
		LastMs: l.ids.LastMs(),
	}
	resp, err := n.propose(ctx, cmd)
	if err != nil {
		return fmt.Errorf("renew worker %d lease: %w", l.worker, err)
	}
	r := resp.(*fsm.LeaseResult)
	switch {
	case errors.Is(r.Err, fsm.ErrNotHolder):
		// It expired and another node took it: get another one.
		n.leases.drop(l)
		n.log.Warn("lost the worker-ID lease; acquiring another", "worker_id", l.worker, "error", r.Err)
		return n.acquireLease(ctx)
	case r.Err != nil:
		return fmt.Errorf("renew worker %d lease: %w", l.worker, r.Err)
	}
	l.extend(r.ExpiresMs)
	return nil
}

// releaseLease gives a lease back through Raft, best effort: on failure
// the lease expires by itself. l must be revoked already (or never used),
// so that lastMs covers every ID it issued.
func (n *Node) releaseLease(ctx context.Context, l *lease, lastMs int64) {
	resp, err := n.propose(ctx, fsm.ReleaseLease{Node: n.cfg.NodeID, Worker: l.worker, Gen: l.gen, LastMs: lastMs})
	if err == nil {
		err = resp.(*fsm.LeaseResult).Err
	}
	if err != nil {
		n.log.Warn("could not release the worker-ID lease; it will expire", "worker_id", l.worker, "error", err)
		return
	}
	n.log.Info("released worker ID", "worker_id", l.worker, "last", n.wallTime(lastMs))
}

// renewLoop renews the lease every LeaseTTL/3, and retries sooner after a
// failure or when kicked (kickRenew), yet no more often than its retry
// interval, until Close.
func (n *Node) renewLoop() {
	defer n.loops.Done()
	interval := n.cfg.LeaseTTL / 3
	retry := min(max(n.cfg.LeaseTTL/10, 10*time.Millisecond), time.Second)
	t := time.NewTimer(interval)
	defer t.Stop()
	var last time.Time // when the last attempt ended
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.renewKick:
			if wait := retry - time.Since(last); wait > 0 {
				t.Reset(wait)
				continue
			}
		}
		ctx, cancel := context.WithTimeout(n.ctx, interval)
		err := n.renewLease(ctx)
		if err == nil {
			// Keeps the registry right if an entry was lost or the
			// node's addresses changed; a no-op otherwise.
			if rerr := n.register(ctx); rerr != nil && n.ctx.Err() == nil {
				n.log.Warn("could not update this node's registry entry", "error", rerr)
			}
		}
		cancel()
		last = time.Now()
		next := interval
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.log.Warn("worker-ID lease renewal failed", "error", err, "lease", n.leaseValid())
			next = retry
		}
		t.Reset(next)
	}
}
