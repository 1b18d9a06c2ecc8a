package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
)

// A follower crashes holding a worker ID. Time passes beyond its lease (the
// clocks jump; the live nodes renew). A new node, joining through another
// follower's API, gets that worker ID, the only one free, and its clock
// then steps an hour back: its IDs still come after every ID the crashed
// node issued.
func TestWorkerIDReuseAcrossNodes(t *testing.T) {
	const ttl = 30 * time.Second
	c := newCluster(t, 3, func(cfg *cluster.Config) { cfg.LeaseTTL = ttl })
	l := leader(t, 10*time.Second, c.nodes...)
	fs := others(c.nodes, l)
	crashed, via := fs[0], fs[1]

	var maxID int64
	for range 5000 {
		id, err := crashed.node.NewID()
		if err != nil {
			t.Fatal(err)
		}
		maxID = max(maxID, id)
	}
	worker := crashed.node.State().WorkerID
	fence := crashed.node.Fence()
	cluster.FillWorkers(t, l.node) // for a day
	crashed.kill()

	// The crashed node's lease runs out; the others keep theirs.
	for _, n := range []*tnode{l, via} {
		n.clock.Advance(ttl + time.Second)
		if err := n.node.RenewLease(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cfg, gate, clk := nodeConfig(t, "n4")
	cfg.LeaseTTL = ttl
	cfg.Join = []string{via.URL()}
	clk.Advance(ttl + time.Second)
	n4 := startNode(t, cfg, gate, clk)
	if got := n4.node.State().WorkerID; got != worker {
		t.Fatalf("the new node leased worker %d, want the crashed node's %d", got, worker)
	}
	w, _ := l.node.FSM().Worker(uint16(worker))
	if w.Holder != "n4" || w.HighMs < fence {
		t.Fatalf("worker record %+v: the new holder must start after the old lease's end %d", w, fence)
	}

	clk.Advance(-time.Hour)
	for range 5000 {
		id, err := n4.node.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if id <= maxID {
			t.Fatalf("ID %d after reuse, %d before", id, maxID)
		}
		if ms := cluster.IDMs(id); ms <= fence {
			t.Fatalf("ID timestamp %d inside the old lease (to %d)", ms, fence)
		}
		maxID = id
	}
}
