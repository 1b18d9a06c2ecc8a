package cluster_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/internal/testkit/promtest"
)

// gauges gathers a node's metrics through a pedantic registry (which
// checks Describe against Collect), as promtest.Samples keys them.
func gauges(t *testing.T, n *tnode) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n.node); err != nil {
		t.Fatalf("register %s: %v", n.cfg.NodeID, err)
	}
	return promtest.Samples(t, reg, "")
}

// TestNodeMetrics: in a 3-node cluster exactly one node reports itself
// leader, every node sees three voters, and the leader's commits and the
// nodes' grants are counted; a pedantic registry (which checks Describe
// against Collect) accepts the collector.
func TestNodeMetrics(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := leader(t, 10*time.Second, c.nodes...)
	// Every node's configuration shows the promotions once it has applied
	// them.
	eventually(t, 10*time.Second, "three voters on every node", func() bool {
		for _, n := range c.nodes {
			g := gauges(t, n)
			if g["shortify_cp_raft_voters{}"] != 3 || g["shortify_cp_raft_nonvoters{}"] != 0 {
				return false
			}
		}
		return true
	})
	for _, n := range c.nodes {
		g := gauges(t, n)
		isLeader := 0.0
		state := "follower"
		if n == l {
			isLeader, state = 1, "leader"
		}
		if g["shortify_cp_raft_leader{}"] != isLeader || g["shortify_cp_raft_state{state="+state+"}"] != 1 ||
			g["shortify_cp_raft_state{state=candidate}"] != 0 {
			t.Errorf("%s: leader %v, state %s %v, candidate %v", n.cfg.NodeID, g["shortify_cp_raft_leader{}"],
				state, g["shortify_cp_raft_state{state="+state+"}"], g["shortify_cp_raft_state{state=candidate}"])
		}
		if g["shortify_cp_raft_term{}"] < 1 || g["shortify_cp_raft_applied_index{}"] < 1 {
			t.Errorf("%s: term %v, applied index %v", n.cfg.NodeID, g["shortify_cp_raft_term{}"], g["shortify_cp_raft_applied_index{}"])
		}
		// Each node leased one worker ID and fetched at least a block
		// when it opened.
		if g["shortify_cp_grants_total{kind=worker_id}"] != 1 || g["shortify_cp_grants_total{kind=sequence_block}"] < 1 {
			t.Errorf("%s: grants worker_id %v, sequence_block %v", n.cfg.NodeID,
				g["shortify_cp_grants_total{kind=worker_id}"], g["shortify_cp_grants_total{kind=sequence_block}"])
		}
		// The leader applies the proposals (followers forward theirs).
		if commits := g["shortify_cp_raft_commit_duration_seconds_count{}"]; n == l && commits < 1 {
			t.Errorf("leader %s: %v commits observed", n.cfg.NodeID, commits)
		}
	}
}
