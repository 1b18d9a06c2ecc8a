package cluster_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
)

// A follower sets the partition policy through the leader; seeding never
// overrides a policy set before; every node sees the result.
func TestPartitionPolicyReplicated(t *testing.T) {
	c := newCluster(t, 2, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	ctx := t.Context()

	seed := fsm.PartitionPolicy{MonthsAhead: 3, RetentionDays: 400}
	if got, err := follower.node.SeedPartitionPolicy(ctx, seed); err != nil || got != seed {
		t.Fatalf("seed: %+v, %v", got, err)
	}
	changed := fsm.PartitionPolicy{MonthsAhead: 6, RetentionDays: 90, Detach: true}
	if err := follower.node.SetPartitionPolicy(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if got, err := lead.node.SeedPartitionPolicy(ctx, seed); err != nil || got != changed {
		t.Fatalf("second seed: %+v, %v; want the policy set before", got, err)
	}
	err := follower.node.SetPartitionPolicy(ctx, fsm.PartitionPolicy{MonthsAhead: 30, RetentionDays: 1})
	if !errors.Is(err, fsm.ErrInvalidCommand) {
		t.Fatalf("bad policy through a follower: %v", err)
	}
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "the policy on "+n.cfg.NodeID, func() bool {
			p, ok := n.node.PartitionPolicy()
			return ok && p == changed
		})
	}
}
