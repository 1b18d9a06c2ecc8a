package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/shortify/shortify/controlplane/fsm"
)

// Raft tuning. A one-node cluster elects itself after one heartbeat timeout
// (randomised between 1x and 2x), so these keep startup well under a second
// while staying safe on a LAN (the leader heartbeats every
// HeartbeatTimeout/10).
const (
	heartbeatTimeout   = 200 * time.Millisecond
	electionTimeout    = 200 * time.Millisecond
	leaderLeaseTimeout = 100 * time.Millisecond
	// commitTimeout is how long a quiet leader waits (randomised up to 2x)
	// before it sends each follower an AppendEntries anyway, which is how
	// followers learn the commit index when no new entry brings it: a
	// follower applies an entry up to that much after the leader. New
	// entries are still sent at once. hashicorp/raft's default: at 10 ms
	// these were two thirds of the RPCs an idle cluster sends, over TLS
	// (docs/decisions/0014-raft-commit-timeout.md).
	commitTimeout = 50 * time.Millisecond
	// The state is small and written rarely (a renewal per node every
	// LeaseTTL/3, a block now and then): snapshot every 1024 entries and
	// keep a few thousand for followers that lag.
	snapshotInterval  = 60 * time.Second
	snapshotThreshold = 1024
	trailingLogs      = 4096
	snapshotsRetained = 2

	transportPool    = 3
	transportTimeout = 10 * time.Second
	boltOpenTimeout  = 2 * time.Second

	// applyTimeout bounds a proposal when the caller's context has no
	// deadline.
	applyTimeout = 10 * time.Second
	// barrierTimeout bounds the wait for the log to be applied on startup.
	barrierTimeout = 30 * time.Second
	// waitersTimeout bounds how long Close waits for raft to answer the
	// proposals under way.
	waitersTimeout = 10 * time.Second
	// pollInterval is how often startup checks for a leader.
	pollInterval = 5 * time.Millisecond
)

// openRaft starts the Raft node: stores and snapshots under DataDir/raft,
// the transport, and a one-node cluster when asked to bootstrap one. It
// sets n.fresh when the node has no Raft state of its own yet.
func (n *Node) openRaft() error {
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create Raft directory: %w", err)
	}
	logger := newHCLog(n.log, "raft")

	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if err != nil {
		return fmt.Errorf("open Raft store %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, logger.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}

	advertise, err := n.advertiseAddr()
	if err != nil {
		return err
	}
	trans, err := n.newTransport(advertise, logger)
	if err != nil {
		return err
	}
	n.transport = trans

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(n.cfg.NodeID)
	conf.HeartbeatTimeout = heartbeatTimeout
	conf.ElectionTimeout = electionTimeout
	conf.LeaderLeaseTimeout = leaderLeaseTimeout
	conf.CommitTimeout = commitTimeout
	conf.SnapshotInterval = snapshotInterval
	conf.SnapshotThreshold = snapshotThreshold
	conf.TrailingLogs = trailingLogs
	// BatchApplyCh stays off: with a buffered apply channel, raft can
	// accept a proposal during Shutdown and never answer its future.
	// Concurrent proposals still share a disk sync.
	conf.Logger = logger
	if n.cfg.hooks != nil && n.cfg.hooks.tune != nil {
		n.cfg.hooks.tune(conf)
	}
	if err := raft.ValidateConfig(conf); err != nil {
		return fmt.Errorf("Raft config: %w", err)
	}

	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("check for Raft state: %w", err)
	}
	n.fresh = !has
	if n.cfg.Bootstrap {
		if !has {
			servers := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter,
				ID:       conf.LocalID,
				Address:  trans.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(conf, store, store, snaps, trans, servers); err != nil {
				return fmt.Errorf("bootstrap one-node cluster: %w", err)
			}
			n.log.Info("bootstrapped a new one-node cluster", "node_id", n.cfg.NodeID, "raft_addr", trans.LocalAddr())
		}
	}

	n.logSpace = &spaceWatch{LogStore: store}
	r, err := raft.NewRaft(conf, n.fsm, n.logSpace, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("start Raft: %w", err)
	}
	n.raft = r
	return nil
}

// newTransport is the Raft transport: mutual TLS over TCP with cluster TLS,
// or, without (a one-node cluster, which Config.Validate makes sure of),
// raft's in-memory transport, which opens no port at all. The in-memory
// transport takes the advertised address as its own, so that a data
// directory made when a one-node cluster listened on TCP (its
// configuration names that address) still elects itself.
func (n *Node) newTransport(advertise net.Addr, logger hclog.Logger) (raft.Transport, error) {
	if n.cfg.TLS == nil {
		addr := raft.ServerAddress(n.cfg.AdvertiseAddr)
		if advertise != nil {
			addr = raft.ServerAddress(advertise.String())
		}
		_, trans := raft.NewInmemTransportWithTimeout(addr, transportTimeout)
		return trans, nil
	}
	var gate *netGate
	if n.cfg.hooks != nil {
		gate = n.cfg.hooks.gate
	}
	stream, err := newStreamLayer(n.cfg.BindAddr, advertise, n.cfg.TLS, gate)
	if err != nil {
		return nil, fmt.Errorf("listen for Raft on %s: %w", n.cfg.BindAddr, err)
	}
	if n.cfg.hooks != nil {
		stream.resolve = n.cfg.hooks.resolve
	}
	n.stream = stream
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: transportPool,
		Timeout: transportTimeout,
		Logger:  logger.Named("transport"),
	}), nil
}

// advertiseAddr is AdvertiseAddr as other nodes dial it: kept as a
// host:port string, so that a host name stays a name in the Raft
// configuration and each peer resolves it on every dial; nil (use the
// listener's address) when it has port 0.
func (n *Node) advertiseAddr() (net.Addr, error) {
	host, port, err := net.SplitHostPort(n.cfg.AdvertiseAddr)
	if err != nil {
		return nil, fmt.Errorf("Raft advertise address: %w", err)
	}
	if port == "0" {
		return nil, nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return nil, fmt.Errorf("Raft advertise address %q: %w", n.cfg.AdvertiseAddr, err)
	}
	if ip := net.ParseIP(host); ip != nil {
		// One spelling per address: peers compare addresses as strings.
		return hostPortAddr(net.JoinHostPort(ip.String(), port)), nil
	}
	return hostPortAddr(net.JoinHostPort(host, port)), nil
}

// closeRaft shuts raft down (which closes the transport) and closes the
// stores. It is safe on a partly opened node.
func (n *Node) closeRaft() error {
	var errs []error
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("shut Raft down: %w", err))
		}
	} else if c, ok := n.transport.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close Raft transport: %w", err))
		}
	}
	// Raft answers every future while it shuts down; don't hang Close if
	// it ever does not.
	waited := make(chan struct{})
	go func() {
		n.waiters.Wait()
		close(waited)
	}()
	t := time.NewTimer(waitersTimeout)
	select {
	case <-waited:
		t.Stop()
	case <-t.C:
		n.log.Error("Raft left proposals unanswered at shutdown", "waited", waitersTimeout)
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close Raft store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// waitLeader waits until the cluster has a leader and, when it is this
// node, until every committed entry is applied to the FSM.
func (n *Node) waitLeader(ctx context.Context) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if _, id := n.raft.LeaderWithID(); id != "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for a Raft leader: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
	if n.raft.State() != raft.Leader {
		return nil
	}
	if err := n.wait(ctx, n.raft.Barrier(timeoutFrom(ctx, barrierTimeout))); err != nil {
		return fmt.Errorf("apply the Raft log: %w", err)
	}
	return nil
}

// propose applies a command through Raft and returns the FSM's response.
// On a follower it forwards the command to the leader's API, which applies
// it (see ApplyForwarded). It retries while there is no leader, the
// leader changes or cannot be reached, until ctx ends (or applyTimeout
// passes, when ctx has no deadline). A retried command may have been
// applied once already: a block is then skipped and a lease left to
// expire, never a number or an ID handed out twice.
func (n *Node) propose(ctx context.Context, c fsm.Command) (resp any, err error) {
	ctx, span := startRaftSpan(ctx, "raft.propose "+c.Type().String(), c.Type().String()) // tracing.go
	defer func() { endSpan(span, err) }()
	if h := n.cfg.hooks; h != nil && h.observe != nil {
		done := h.observe(c)
		defer func() { done(resp, err) }()
	}
	data, err := fsm.Encode(c)
	if err != nil {
		return nil, err
	}
	err = n.leaderDo(ctx, "propose "+c.Type().String(), true,
		func(ctx context.Context) error {
			var err error
			resp, err = n.applyLocal(ctx, data)
			return err
		},
		func(ctx context.Context, leader fsm.NodeInfo) error {
			var err error
			resp, err = n.forwardApply(ctx, leader, c.Type(), data)
			return err
		})
	return resp, err
}

// applyLocal applies an encoded command on this node, which must lead.
func (n *Node) applyLocal(ctx context.Context, data []byte) (_ any, err error) {
	ctx, span := startRaftSpan(ctx, "raft.apply", commandName(data)) // tracing.go
	defer func() { endSpan(span, err) }()
	start := time.Now()
	f := n.raft.Apply(data, timeoutFrom(ctx, applyTimeout))
	if err := n.wait(ctx, f); err != nil {
		return nil, err
	}
	n.observeCommit(start)
	return appliedResponse(f.Response())
}

// wait waits for a raft future, or for ctx. Raft answers every future by
// the time it has shut down, so the helper goroutine never outlives Close.
func (n *Node) wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	n.waiters.Add(1)
	go func() {
		defer n.waiters.Done()
		done <- f.Error()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	default:
		return err
	}
}

// timeoutFrom is what is left of ctx's deadline, or def without one.
func timeoutFrom(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return def
}
