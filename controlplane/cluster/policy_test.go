package cluster_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
)

// A follower sets the partition policy through the leader, for an admin;
// seeding never overrides a policy set before; every node sees the result.
func TestPartitionPolicyReplicated(t *testing.T) {
	c := newCluster(t, 2, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	ctx := cluster.WithCallerKey(t.Context(), addKey(t, lead, "admin"))

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

// A follower records partitions through the leader; every node sees the
// catalogue; an invalid record comes back as fsm.ErrInvalidCommand.
func TestPartitionCatalogueReplicated(t *testing.T) {
	c := newCluster(t, 2, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	ctx := t.Context()

	recs := []fsm.PartitionRecord{{Table: "clicks", Name: "clicks_y2026m11", FromMs: 1_000, ToMs: 2_000, State: fsm.PartitionCreated}}
	if err := follower.node.RecordPartitions(ctx, 5_000, recs); err != nil {
		t.Fatal(err)
	}
	bad := []fsm.PartitionRecord{{Table: "clicks", Name: "clicks_y2026m12", FromMs: 2_000, ToMs: 1_000, State: fsm.PartitionCreated}}
	if err := follower.node.RecordPartitions(ctx, 5_000, bad); !errors.Is(err, fsm.ErrInvalidCommand) {
		t.Fatalf("bad record through a follower: %v", err)
	}
	recs[0].ChangedMs = 5_000
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "the catalogue on "+n.cfg.NodeID, func() bool {
			got := n.node.PartitionCatalogue()
			return len(got) == 1 && got[0] == recs[0]
		})
	}
}
