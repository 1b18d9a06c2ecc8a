package cluster_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
)

// suffrage is member id's suffrage in n's configuration ("" when absent).
func suffrage(n *tnode, id string) string {
	for _, m := range n.node.Info().Nodes {
		if m.ID == id {
			return m.Suffrage
		}
	}
	return ""
}

// A joining node is added as a non-voter: it works (codes, leases) but
// does not count toward the quorum, so the cluster keeps committing while
// it is cut off and behind. The leader promotes it to voter only once its
// API reports that it has caught up.
func TestJoinAsNonvoterThenPromote(t *testing.T) {
	c := newCluster(t, 1, nil)
	l := c.nodes[0]
	ctx := t.Context()

	cfg, gate, clk := nodeConfig(t, "n2")
	cfg.Join = []string{l.URL()}
	n2 := prepareNode(t, cfg, gate, clk)
	// Open without serving its API yet: the leader cannot tell how far it
	// has got, so it stays a non-voter.
	node, err := cluster.Open(ctx, n2.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n2.node = node // stopped with the test
	if got := suffrage(l, "n2"); got != "nonvoter" {
		t.Fatalf("n2 joined as %q, want nonvoter", got)
	}
	if _, err := node.NextCode(); err != nil {
		t.Fatalf("the non-voter issues no code: %v", err)
	}
	if err := l.node.TryPromote(ctx, "n2"); !errors.Is(err, cluster.ErrLeaderUnreachable) {
		t.Fatalf("promotion while n2's API is down: %v", err)
	}

	// Cut off, n2 falls behind: the single voter commits on its own.
	gate.Cut()
	for i := range 80 {
		if err := l.node.SetDomainBlocked(ctx, fmt.Sprintf("d%d.example", i), true); err != nil {
			t.Fatalf("commit with the non-voter cut off: %v", err)
		}
	}
	if err := n2.install(node); err != nil {
		t.Fatal(err)
	}
	if err := l.node.TryPromote(ctx, "n2"); !errors.Is(err, cluster.ErrNotCaughtUp) {
		t.Fatalf("promotion of a non-voter 80 entries behind: %v", err)
	}
	if got := suffrage(l, "n2"); got != "nonvoter" {
		t.Fatalf("n2 is %q while behind", got)
	}

	// Healed, it catches up and the leader's loop promotes it.
	gate.Heal()
	eventually(t, 15*time.Second, "n2 promoted to voter", func() bool { return suffrage(l, "n2") == "voter" })
	// Promoted within promoteMaxLag entries of the end; it gets the rest.
	eventually(t, 10*time.Second, "n2 to apply the entries it missed", func() bool { return n2.node.DomainBlocked("d79.example") })
	leader(t, 10*time.Second, c.nodes[0], n2)
}
