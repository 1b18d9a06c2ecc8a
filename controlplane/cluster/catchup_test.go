package cluster_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
)

// Snapshots are taken all the time and the log behind them is compacted.
// Every node's FSM ends up with the same state; a node that was stopped
// while the others moved on gets the leader's snapshot when it comes back
// and catches up, and then issues nothing issued before.
func TestSnapshotsAndCatchUp(t *testing.T) {
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		cfg.BlockSize = 5 // a block every 5 codes: many log entries
		cluster.WithRaftTuning(cfg, func(rc *raft.Config) {
			rc.SnapshotThreshold = 16
			rc.SnapshotInterval = 20 * time.Millisecond
			rc.TrailingLogs = 8
		})
	})
	l := leader(t, 10*time.Second, c.nodes...)
	f := others(c.nodes, l)[0]
	issued := map[string]bool{}
	issue := func(nodes []*tnode, count int) {
		t.Helper()
		for _, n := range nodes {
			for range count {
				code, err := n.node.NextCode()
				if err != nil {
					t.Fatalf("%s: %v", n.cfg.NodeID, err)
				}
				if issued[code] {
					t.Fatalf("code %q issued twice", code)
				}
				issued[code] = true
			}
		}
	}
	snapshot := func(n *tnode) {
		t.Helper()
		if err := n.node.Raft().Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			t.Fatalf("snapshot on %s: %v", n.cfg.NodeID, err)
		}
	}

	issue(c.nodes, 100)
	for _, n := range c.nodes {
		snapshot(n)
	}
	sameState(t, c.nodes)

	// The follower stops cleanly: its lease release is forwarded to the
	// leader.
	worker := f.node.State().WorkerID
	f.close() // which takes a snapshot too
	stoppedAt := f.node.Raft().LastIndex()
	if w, _ := l.node.FSM().Worker(uint16(worker)); w.Held {
		t.Fatalf("worker %d still held after %s closed: %+v", worker, f.cfg.NodeID, w)
	}

	// The others move on well past what the leader's log keeps.
	rest := others(c.nodes, l)[1:]
	issue(append(rest, l), 200)
	var wg sync.WaitGroup
	for i := range 100 {
		n := []*tnode{l, rest[0]}[i%2]
		wg.Go(func() {
			if _, err := n.node.Propose(context.Background(), fsm.AllocateBlock{Node: "filler", Size: 1}); err != nil {
				t.Errorf("propose through %s: %v", n.cfg.NodeID, err)
			}
		})
	}
	wg.Wait()
	snapshot(l)
	if idx := snapshotIndex(l); idx <= stoppedAt {
		t.Fatalf("leader's last snapshot at %d, not past the %d the stopped node has", idx, stoppedAt)
	}

	restarted := time.Now()
	f.restart(t)
	sameState(t, c.nodes)
	t.Logf("%s restarted and caught up in %v", f.cfg.NodeID, time.Since(restarted).Round(time.Millisecond))
	if idx := snapshotIndex(f); idx <= stoppedAt {
		t.Fatalf("the restarted node's last snapshot is at %d, before it stopped (%d): it did not get the leader's", idx, stoppedAt)
	}
	issue(c.nodes, 50)
}

// sameState waits until every node's FSM holds the same state.
func sameState(t *testing.T, nodes []*tnode) {
	t.Helper()
	eventually(t, 10*time.Second, "the same FSM state on every node", func() bool {
		want := nodes[0].node.FSM().State()
		for _, n := range nodes[1:] {
			if !reflect.DeepEqual(n.node.FSM().State(), want) {
				return false
			}
		}
		return true
	})
}

// snapshotIndex is the index of a node's latest snapshot.
func snapshotIndex(n *tnode) uint64 {
	idx, _ := strconv.ParseUint(n.node.Raft().Stats()["last_snapshot_index"], 10, 64)
	return idx
}
