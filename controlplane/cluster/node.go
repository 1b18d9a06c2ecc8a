// Package cluster runs a control-plane node: a hashicorp/raft member whose
// FSM (package fsm) holds the coordination state, and the ID issuing built
// on it.
//
// A node leases a Snowflake worker ID from the FSM (renewed in the
// background) and fetches blocks of the global sequence (refilled in the
// background before they run out). NewID and NextCode then run locally,
// without a Raft round trip in the steady state:
//
//	node, err := cluster.Open(ctx, cluster.Config{DataDir: dir, BindAddr: "127.0.0.1:7000", Bootstrap: true})
//	id, err := node.NewID()      // Snowflake ID, worker ID from the lease
//	code, err := node.NextCode() // short code for the next number of the node's block
//
// # Clusters
//
// The first node bootstraps a one-node cluster (Config.Bootstrap); the
// others join it through the internal listener of any member
// (Config.Join), which has the leader add them as voters. Every node
// records its Raft address and the base URL of its internal listener
// (Config.APIAddr) in the FSM's node registry. Any node accepts every
// call: a write that needs the leader (lease acquire, renew and release,
// block allocation, registration, join, removal, and admin writes for an
// admin caller) is forwarded from a follower to the leader's internal
// listener, so callers never care which node they hit (see forward.go for
// the protocol, and Join, Remove, ApplyForwarded and Info for what the
// API serves).
//
// # Trust
//
// Members prove membership with mutual TLS from a cluster CA
// (Config.TLS, package clustertls), on the Raft transport and on the
// calls between members; a peer without a certificate of the cluster CA
// gets nothing into the log. A node without cluster TLS is a cluster of
// one on raft's in-memory transport, with no Raft port at all.
//
// When the leader fails, the others elect a new one; meanwhile each node
// keeps issuing codes from the blocks it holds and IDs under its lease. A
// node cut off from the majority keeps doing so until its blocks run out
// (ErrNoSequence) or its lease ends (ErrNoLease), and never hands out a
// number or an ID that another node could also hand out.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/codegen"
)

// Sentinel errors; they are wrapped with context, test with errors.Is.
var (
	// ErrNotLeader means a write needs the Raft leader and this node is not
	// it. Node's own writes are forwarded to the leader; calls that were
	// forwarded to this node already (ApplyForwarded, Join and Remove with
	// forward false) return it, and the sender tries again.
	ErrNotLeader = errors.New("not the Raft leader")
	// ErrNoLeader means the cluster has no leader this node knows of.
	ErrNoLeader = errors.New("no Raft leader")
	// ErrNoLease means the node holds no valid worker-ID lease (it could
	// not renew it within its TTL, or is closed), so it issues no Snowflake
	// ID rather than risk a duplicate worker ID.
	ErrNoLease = errors.New("no worker-ID lease")
	// ErrNoSequence means the node's sequence block is used up and no new
	// one could be had from Raft; the API answers 503.
	ErrNoSequence = errors.New("no sequence block available")
	// ErrClosed means the node has been closed.
	ErrClosed = errors.New("cluster node closed")
	// ErrLeaderUnreachable means the leader's API could not be reached, or
	// answered that it is busy; the call is retried until its context ends.
	ErrLeaderUnreachable = errors.New("the Raft leader's API cannot be reached")
	// ErrNoLeaderAPI means the leader registered no API address, so
	// followers cannot forward to it: every member needs Config.APIAddr.
	ErrNoLeaderAPI = errors.New("the Raft leader has no API address")
	// ErrBadCommand answers ApplyForwarded for a body that is not a valid
	// command that followers forward.
	ErrBadCommand = errors.New("bad forwarded command")
	// ErrInvalidRequest means a join or removal request has bad input
	// (errors.As a *FieldError for the field at fault).
	ErrInvalidRequest = errors.New("invalid cluster request")
	// ErrUnknownMember means a removal named a node that is not a member.
	ErrUnknownMember = errors.New("no such cluster member")
	// ErrConflict means a membership change conflicts with the cluster as
	// it is (an ID at another address, an address under another ID, the
	// last voter, a leader without an API address).
	ErrConflict = errors.New("conflicts with the cluster membership")
	// ErrForbidden means a call was refused for want of authority: a
	// forwarded admin command without a valid admin key of the caller, or
	// another member's refusal (401, 403).
	ErrForbidden = errors.New("forbidden")
)

// releaseTimeout bounds the release of the lease in Close.
const releaseTimeout = 2 * time.Second

// Node is a running control-plane node. Its methods are safe for
// concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm.FSM
	codec *codegen.Codec

	raft      *raft.Raft
	transport raft.Transport
	// stream is the TLS stream layer under transport; nil with the
	// in-memory transport of a one-node cluster without cluster TLS.
	stream *streamLayer
	store  *raftboltdb.BoltStore
	// logSpace is the log store as raft uses it (logspace.go).
	logSpace *spaceWatch
	// fresh is true when the node had no Raft state when it opened.
	fresh bool

	// client calls other members' APIs; ownClient when the node made it.
	client    *http.Client
	ownClient bool

	leases leases
	seq    sequencer
	// renewKick wakes the renewal loop early.
	renewKick chan struct{}
	// metrics are what the node counts for Prometheus (metrics.go).
	metrics *nodeMetrics

	// ctx lives until Close; background loops run on it.
	ctx    context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup // background loops
	// waiters counts goroutines waiting on raft futures.
	waiters sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Open starts a node and returns it once it can issue IDs and codes: Raft
// is up with a leader, the cluster's key is known (this node proposes one
// when it leads a cluster without a key), a worker-ID lease is held and a
// first sequence block fetched. ctx bounds the startup only; the node runs
// until Close.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "cluster", "node_id", cfg.NodeID),
		fsm:       fsm.New(),
		client:    cfg.HTTPClient,
		renewKick: make(chan struct{}, 1),
		metrics:   newNodeMetrics(),
	}
	if n.client == nil {
		var gate *netGate
		if cfg.hooks != nil {
			gate = cfg.hooks.gate
		}
		n.client, n.ownClient = newHTTPClient(cfg.TLS, gate), true
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.seq.init(cfg.BlockSize)
	defer func() {
		if err != nil {
			// A halted FSM shuts Raft down, so the step in progress may
			// fail with "raft is already shutdown"; the halt is the cause
			// the operator must read.
			if herr := n.fsm.Err(); herr != nil && !errors.Is(err, herr) {
				err = fmt.Errorf("%w (then: %v)", herr, err)
			}
			// Gives back a lease already taken, and stops raft.
			err = errors.Join(fmt.Errorf("cluster: open node %s: %w", cfg.NodeID, err), n.shutdown(true))
		}
	}()

	if err := n.openRaft(); err != nil {
		return nil, err
	}
	// A log entry this release cannot apply ends the start at once.
	ctx, cancelStart := context.WithCancelCause(ctx)
	defer cancelStart(nil)
	n.loops.Add(1)
	go n.haltLoop(cancelStart)
	if n.fresh && !cfg.Bootstrap && len(cfg.Join) > 0 {
		if err := n.join(ctx); err != nil {
			return nil, err
		}
	}
	if err := n.waitLeader(ctx); err != nil {
		return nil, err
	}
	key, err := n.clusterKey(ctx)
	if err != nil {
		return nil, err
	}
	if n.codec, err = codegen.New(key); err != nil {
		return nil, fmt.Errorf("code generator: %w", err)
	}
	if err := n.register(ctx); err != nil {
		return nil, err
	}
	if err := n.acquireLease(ctx); err != nil {
		return nil, err
	}
	if err := n.refill(ctx); err != nil {
		return nil, fmt.Errorf("first sequence block: %w", err)
	}

	n.snapshot("ready")
	n.loops.Add(3)
	go n.renewLoop()
	go n.refillLoop()
	go n.promoteLoop()
	st := n.State()
	n.log.Info("control-plane node ready", "raft_state", st.RaftState, "leader", st.LeaderAddr,
		"worker_id", st.WorkerID, "took", time.Since(started))
	return n, nil
}

// clusterKey returns the cluster's permutation key, proposing a fresh one
// (or restoring Config.Restore's backup) when this node leads a cluster
// that has none.
func (n *Node) clusterKey(ctx context.Context) ([]byte, error) {
	if key := n.fsm.Key(); key != nil {
		if n.cfg.Restore != nil {
			n.log.Info("not restoring the backup: the cluster has a code key already (restore_from only seeds a new cluster)",
				"file", n.cfg.Restore.Path)
		}
		return key, nil
	}
	if n.raft.State() != raft.Leader {
		// A follower learns the key from the log.
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for {
			if key := n.fsm.Key(); key != nil {
				return key, nil
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for the cluster key: %w", context.Cause(ctx))
			case <-t.C:
			}
		}
	}
	if n.cfg.Restore != nil {
		// A new cluster from a backup: its key, not a new one (restore.go).
		return n.restore(ctx)
	}
	key, err := codegen.NewKey()
	if err != nil {
		return nil, err
	}
	resp, err := n.propose(ctx, fsm.InitCluster{Key: key})
	if err != nil {
		return nil, fmt.Errorf("initialise cluster: %w", err)
	}
	r := resp.(*fsm.InitResult)
	switch {
	case r.Err == nil:
		n.log.Info("initialised the cluster with a new code key")
	case errors.Is(r.Err, fsm.ErrAlreadyInitialised):
		// Another proposal won; carry on with its key.
	default:
		return nil, fmt.Errorf("initialise cluster: %w", r.Err)
	}
	return r.Key, nil
}

// Close stops the node: it stops the background loops, releases the
// worker-ID lease through Raft (best effort, bounded), shuts Raft down and
// closes the stores. No goroutine of the node outlives it. It is
// idempotent; later calls return the first call's error.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(true) })
	return n.closeErr
}

// shutdown is Close; release false leaves the lease to expire, as a crash
// would.
func (n *Node) shutdown(release bool) error {
	n.cancel()
	n.loops.Wait()
	n.seq.close()
	l := n.leases.revoke()
	if l != nil && release {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		n.releaseLease(ctx, l, l.ids.LastMs())
		cancel()
	}
	if release && n.raft != nil {
		n.snapshot("closing")
	}
	err := n.closeRaft()
	if n.ownClient {
		n.client.CloseIdleConnections()
	}
	if err != nil {
		return fmt.Errorf("cluster: close node %s: %w", n.cfg.NodeID, err)
	}
	n.log.Debug("control-plane node closed")
	return nil
}

// snapshot snapshots the FSM, best effort. Open does it once the node is
// ready and Close before it stops: when the node starts again it restores
// the snapshot at once, so it knows the cluster's key and where the
// leader's API is without waiting for the leader to send it the log (after
// a peer has been gone a while, raft backs off from it for up to ~10 s).
// The state is small; a snapshot takes milliseconds.
func (n *Node) snapshot(when string) {
	if n.raft.State() == raft.Shutdown {
		return
	}
	if err := n.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		n.log.Warn("could not snapshot the FSM; the next start may wait for the leader's log", "when", when, "error", err)
	}
}

// Status describes a node for health endpoints.
type Status struct {
	// NodeID is this node's ID.
	NodeID string `json:"node_id"`
	// Address is this node's Raft address.
	Address string `json:"address"`
	// RaftState is Follower, Candidate, Leader or Shutdown.
	RaftState string `json:"raft_state"`
	// LeaderID and LeaderAddr name the leader; empty when there is none.
	LeaderID   string `json:"leader_id"`
	LeaderAddr string `json:"leader_addr"`
	// WorkerID is the leased worker ID, -1 without a valid lease.
	WorkerID int `json:"worker_id"`
	// LeaseExpires is when the lease runs out unless renewed (zero without
	// one).
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	// Term is the current Raft term.
	Term uint64 `json:"term"`
	// AppliedIndex is the last log index applied to the FSM.
	AppliedIndex uint64 `json:"applied_index"`
}

// State returns the node's status. It never blocks on Raft.
func (n *Node) State() Status {
	st := Status{
		NodeID:       n.cfg.NodeID,
		Address:      string(n.transport.LocalAddr()),
		RaftState:    n.raft.State().String(),
		WorkerID:     -1,
		Term:         n.raft.CurrentTerm(),
		AppliedIndex: n.raft.AppliedIndex(),
	}
	addr, id := n.raft.LeaderWithID()
	st.LeaderAddr, st.LeaderID = string(addr), string(id)
	if l := n.leases.current(); l != nil && n.nowMs() <= l.until.Load() {
		st.WorkerID = int(l.worker)
		st.LeaseExpires = n.wallTime(l.until.Load())
	}
	return st
}

// Ready returns nil when the node can serve creates: there is a leader, the
// node holds a valid worker-ID lease and has sequence numbers left.
// Otherwise the error wraps ErrClosed, ErrNoLeader, ErrNoLease or
// ErrNoSequence.
func (n *Node) Ready() error {
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	if _, id := n.raft.LeaderWithID(); id == "" {
		return ErrNoLeader
	}
	if err := n.leaseValid(); err != nil {
		return err
	}
	if n.seq.available() == 0 {
		return ErrNoSequence
	}
	return nil
}
