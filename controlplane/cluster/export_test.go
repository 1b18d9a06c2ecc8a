package cluster

import (
	"context"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/fsm"
)

// What the external tests (package cluster_test, which can import the api
// package) need of the node's insides.

// Gate cuts a node off the network: its Raft connections and its calls to
// other members' APIs.
type Gate = netGate

// NewGate returns an open gate.
func NewGate() *Gate { return newNetGate() }

// WithGate routes the node's traffic through g.
func WithGate(c *Config, g *Gate) {
	if c.hooks == nil {
		c.hooks = &hooks{}
	}
	c.hooks.gate = g
}

// WithRaftTuning adjusts the node's Raft configuration.
func WithRaftTuning(c *Config, tune func(*raft.Config)) {
	if c.hooks == nil {
		c.hooks = &hooks{}
	}
	c.hooks.tune = tune
}

// WithResolver has the node's Raft dials connect to resolve(host:port)
// instead of host:port: DNS under the test's control.
func WithResolver(c *Config, resolve func(hostport string) string) {
	if c.hooks == nil {
		c.hooks = &hooks{}
	}
	c.hooks.resolve = resolve
}

// Kill stops the node as a crash would: the lease is not released.
func (n *Node) Kill() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(false) })
	return n.closeErr
}

// FSM is the node's state machine.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Raft is the node's raft.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Propose applies a command, forwarding it when the node does not lead.
func (n *Node) Propose(ctx context.Context, c fsm.Command) (any, error) { return n.propose(ctx, c) }

// Seq maps a code back to its sequence number.
func (n *Node) Seq(code string) (uint64, error) { return n.codec.Seq(code) }

// RenewLease renews the node's lease once.
func (n *Node) RenewLease(ctx context.Context) error { return n.renewLease(ctx) }

// NowMs is the node's clock in the FSM's milliseconds.
func (n *Node) NowMs() int64 { return n.nowMs() }

// Fence is the end of the node's current lease, in the FSM's milliseconds.
func (n *Node) Fence() int64 {
	if l := n.leases.current(); l != nil {
		return l.until.Load()
	}
	return revoked
}

// ErrNotCaughtUp says a non-voter trails the leader too far to promote.
var ErrNotCaughtUp = errNotCaughtUp

// TryPromote runs the leader's promotion check of member id once.
func (n *Node) TryPromote(ctx context.Context, id string) error {
	servers, err := n.servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == id {
			return n.promote(ctx, s)
		}
	}
	return ErrUnknownMember
}

// IDMs is the timestamp of a Snowflake ID in the FSM's milliseconds.
func IDMs(id int64) int64 { return idMs(id) }

// FillWorkers leases every free worker ID to made-up nodes for a day (the
// internal tests' helper, shared so that both test packages fill alike).
func FillWorkers(t testing.TB, n *Node) { fillWorkers(t, n) }
