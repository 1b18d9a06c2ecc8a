package pgstore

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultReplicaMaxLag is the replication lag beyond which a replica
// leaves Lookup's rotation when linkstore.Config.ReplicaMaxLag is 0. A
// lagging replica still never hides a new link (misses are confirmed on
// the primary), but it can serve an old target or a link already
// disabled, so the bound is kept near the edge's invalidation delay.
const DefaultReplicaMaxLag = 5 * time.Second

const (
	// replicaCheckInterval is how often each replica's health and lag are
	// checked in the background.
	replicaCheckInterval = time.Second

	// replicaCheckTimeout bounds one check (the primary's WAL position and
	// the replica's replay position), connecting included.
	replicaCheckTimeout = 2 * time.Second

	// replicaConnectTimeout bounds connecting to a replica whose DSN sets
	// no connect_timeout, so that a replica that does not answer costs a
	// lookup a bounded wait before the fall-back to the primary.
	replicaConnectTimeout = 2 * time.Second

	// lagWindow is the most primary WAL positions a replica's lag tracker
	// keeps: measured lag saturates at lagWindow check intervals, far
	// beyond any useful bound.
	lagWindow = 128
)

const (
	// sqlPrimaryLSN is the primary's flushed WAL position (what a
	// streaming replica can have received) as a number.
	sqlPrimaryLSN = `SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint`
	// sqlReplicaLSN says whether the server is a standby and how far it
	// has replayed; the position is NULL on a server not in recovery.
	sqlReplicaLSN = `SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint`
)

// ReplicaStats is a snapshot of the read path of a Store, for an edge to
// export as metrics. The counters only grow.
type ReplicaStats struct {
	// ReplicaHits counts lookups that a replica answered with a link.
	ReplicaHits uint64
	// PrimaryReads counts lookups sent to the primary because no replica
	// is configured or in rotation, or because the replica tried failed.
	PrimaryReads uint64
	// Confirmations counts codes a replica did not know that were looked
	// up again on the primary; ConfirmedFound counts those the primary
	// had (a link the replica had not replayed yet).
	Confirmations  uint64
	ConfirmedFound uint64
	// Replicas is the state of each replica, in configuration order.
	Replicas []ReplicaState
}

// ReplicaState is one replica's state as of its last health check.
type ReplicaState struct {
	// Addr is the replica's host:port (never its credentials).
	Addr string
	// InRotation reports whether lookups are sent to it: it answers, its
	// lag has been measured, and the lag is within the bound.
	InRotation bool
	// Healthy reports whether its last check (or lookup) succeeded.
	Healthy bool
	// Lag is how far it is behind the primary: how long ago the primary
	// had WAL the replica has not replayed yet, to about one check
	// interval. It is 0 for a server that is not in recovery.
	Lag time.Duration
	// Failures counts its failed checks and lookups.
	Failures uint64
}

// readStats are the Lookup counters of ReplicaStats.
type readStats struct {
	replicaHits, primaryReads, confirmations, confirmedFound atomic.Uint64
}

// replica is one read pool and its health. inRotation is what Lookup
// reads; only the replica's health-check goroutine sets it to true, and
// a failed lookup sets it to false until the next check succeeds.
type replica struct {
	pool       *pgxpool.Pool
	lookups    lookupClock // how long lookups on pool take (budget.go)
	addr       string
	inRotation atomic.Bool
	failures   atomic.Uint64

	mu      sync.Mutex // guards healthy and lag, for ReplicaStats
	healthy bool
	lag     time.Duration
}

func newReplica(pool *pgxpool.Pool) *replica {
	cc := pool.Config().ConnConfig
	return &replica{pool: pool, addr: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))}
}

// failed takes the replica out of the rotation after a lookup error; the
// next successful check puts it back.
func (r *replica) failed() {
	r.inRotation.Store(false)
	r.failures.Add(1)
	r.mu.Lock()
	r.healthy = false
	r.mu.Unlock()
}

func (r *replica) state() ReplicaState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplicaState{
		Addr:       r.addr,
		InRotation: r.inRotation.Load(),
		Healthy:    r.healthy,
		Lag:        r.lag,
		Failures:   r.failures.Load(),
	}
}

// ReplicaStats returns the read path's counters and each replica's state.
func (s *Store) ReplicaStats() ReplicaStats {
	st := ReplicaStats{
		ReplicaHits:    s.reads.replicaHits.Load(),
		PrimaryReads:   s.reads.primaryReads.Load(),
		Confirmations:  s.reads.confirmations.Load(),
		ConfirmedFound: s.reads.confirmedFound.Load(),
	}
	for _, r := range s.replicas {
		st.Replicas = append(st.Replicas, r.state())
	}
	return st
}

// pickReplica returns the next replica in rotation, round-robin, or nil
// when none is (no replicas configured, or all down or lagging).
func (s *Store) pickReplica() *replica {
	n := uint64(len(s.replicas))
	if n == 0 {
		return nil
	}
	start := s.next.Add(1)
	for i := range n {
		if r := s.replicas[(start+i)%n]; r.inRotation.Load() {
			return r
		}
	}
	return nil
}

// startChecks starts one health-check goroutine per replica; Close stops
// them and waits for them before closing the pools.
func (s *Store) startChecks(o options) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopChecks = cancel
	for _, r := range s.replicas {
		s.checks.Go(func() { s.checkLoop(ctx, r, o) })
	}
}

// checkLoop checks r at once, so that a healthy replica joins the
// rotation without waiting, then every interval until ctx ends.
func (s *Store) checkLoop(ctx context.Context, r *replica, o options) {
	var lt lagTracker
	t := time.NewTicker(o.checkInterval)
	defer t.Stop()
	for {
		s.check(ctx, r, &lt, o)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check measures r's health and lag once and sets whether it is in
// rotation. A replica joins only once its lag is known: right after it
// comes up it may be any distance behind.
//
// The primary and the replica each get checkTimeout: a primary that is
// slow to answer (shutting down, overloaded) must not fail the replica's
// check. A failed check takes the replica out of rotation until the next
// one succeeds, but keeps the samples: they still measure the replica
// when it answers again, so it can come back while the primary is down.
//
// While the primary does not answer, no sample is added and the lag is
// measured at the last moment it did: a primary that is down commits
// nothing, so a replica that was within the bound then still holds
// everything it had, and keeps serving the links the edges have not
// cached (issue 18, fault 2). Without this a replica was out of rotation
// for the whole outage once one check failed (its lag could not become
// known again without the primary), and every uncached redirect answered
// 503; and a replica that had not received the primary's last WAL before
// a crash aged out of rotation after the bound. A primary that is only
// unreachable from this process (a partition) may still commit: the
// replica then serves what it has, older by what it has not replayed,
// and the link events still evict changed codes.
func (s *Store) check(parent context.Context, r *replica, lt *lagTracker, o options) {
	sampled := time.Now()
	var primaryLSN int64
	pctx, pcancel := context.WithTimeout(parent, o.checkTimeout)
	primaryErr := s.primary.QueryRow(pctx, sqlPrimaryLSN).Scan(&primaryLSN)
	pcancel()
	if primaryErr == nil {
		// Whatever the replica has replayed by the time it answers is
		// compared with this position.
		lt.sample(sampled, primaryLSN)
	}

	ctx, cancel := context.WithTimeout(parent, o.checkTimeout)
	defer cancel()
	var inRecovery bool
	var replayLSN *int64
	err := r.pool.QueryRow(ctx, sqlReplicaLSN).Scan(&inRecovery, &replayLSN)
	if parent.Err() != nil {
		return // the store is closing: the outcome says nothing
	}
	if err != nil {
		r.failed()
		return
	}

	var lag time.Duration
	known := true
	if inRecovery && replayLSN != nil {
		now := time.Now()
		if primaryErr != nil && !lt.lastSampled.IsZero() {
			now = lt.lastSampled // the primary's last answer: see above
		}
		lag, known = lt.lag(now, *replayLSN)
	}
	r.mu.Lock()
	r.healthy, r.lag = true, lag
	r.mu.Unlock()
	r.inRotation.Store(known && (o.maxLag < 0 || lag <= o.maxLag))
}

// lagTracker measures a replica's lag without trusting either server's
// clock: it keeps the primary's WAL positions sampled at each check (by
// this process's clock), and the replica's lag is the age of the oldest
// sample it has not replayed yet. It belongs to one check goroutine.
type lagTracker struct {
	samples     []lagSample // oldest first, positions not yet replayed
	synced      bool        // the replica has replayed a sample since reset
	replayed    int64       // the replica's replay position at the last lag
	lastSampled time.Time   // when the primary last answered (sample)
}

type lagSample struct {
	at  time.Time
	lsn int64
}

// sample records the primary's WAL position at a time.
func (lt *lagTracker) sample(at time.Time, lsn int64) {
	if len(lt.samples) == lagWindow {
		// Drop the oldest: the lag then saturates at the window's age.
		lt.samples = append(lt.samples[:0], lt.samples[1:]...)
	}
	lt.samples = append(lt.samples, lagSample{at: at, lsn: lsn})
	lt.lastSampled = at
}

// lag drops the samples the replica has replayed (it has replayed up to
// replayLSN) and returns its lag at now. known is false until the replica
// has replayed at least one sample since the tracker was reset: before
// that it is behind the first sample by an unknown amount, and the lag
// returned is only a lower bound.
//
// A replica whose position went back (a server restored from an older
// copy at the same address) resets the tracker first: the samples it had
// passed before are gone and could not measure it.
func (lt *lagTracker) lag(now time.Time, replayLSN int64) (lag time.Duration, known bool) {
	if replayLSN < lt.replayed {
		lt.reset()
	}
	lt.replayed = replayLSN
	n := 0
	for n < len(lt.samples) && lt.samples[n].lsn <= replayLSN {
		n++
	}
	if n > 0 {
		lt.synced = true
		lt.samples = append(lt.samples[:0], lt.samples[n:]...)
	}
	if len(lt.samples) > 0 {
		lag = max(now.Sub(lt.samples[0].at), 0)
	}
	return lag, lt.synced
}

// reset forgets the replica's progress: it may come back from anywhere.
// The time of the primary's last answer stays.
func (lt *lagTracker) reset() {
	lt.samples = lt.samples[:0]
	lt.synced = false
	lt.replayed = 0
}

// options are the read path's tunables; tests shorten them.
type options struct {
	maxLag        time.Duration // <0: no bound
	checkInterval time.Duration
	checkTimeout  time.Duration
}

func defaultOptions(maxLag time.Duration) options {
	if maxLag == 0 {
		maxLag = DefaultReplicaMaxLag
	}
	return options{maxLag: maxLag, checkInterval: replicaCheckInterval, checkTimeout: replicaCheckTimeout}
}
