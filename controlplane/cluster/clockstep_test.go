package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// idLoop calls NewID on a node every millisecond until stopped, and keeps
// every ID with the longest time between two IDs (the stall).
type idLoop struct {
	node    func() *cluster.Node
	stopped chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	ids      []int64
	refused  int
	lastOK   time.Time
	stall    time.Duration
	firstErr error
}

func startIDLoop(node func() *cluster.Node) *idLoop {
	l := &idLoop{node: node, stopped: make(chan struct{}), done: make(chan struct{}), lastOK: time.Now()}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.stopped:
				return
			case <-tick.C:
			}
			id, err := l.node().NewID()
			now := time.Now()
			l.mu.Lock()
			if err != nil {
				l.refused++
				if l.firstErr == nil {
					l.firstErr = err
				}
			} else {
				l.ids = append(l.ids, id)
				l.stall = max(l.stall, now.Sub(l.lastOK))
				l.lastOK = now
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// count is the number of IDs issued so far.
func (l *idLoop) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// stop ends the loop and returns what it got.
func (l *idLoop) stop() (ids []int64, stall time.Duration, refused int, firstErr error) {
	close(l.stopped)
	<-l.done
	return l.ids, l.stall, l.refused, l.firstErr
}

// clockPhase is one step of the wall clock and what it did to the IDs.
type clockPhase struct {
	name    string
	ids     int
	stall   time.Duration // longest gap between two IDs
	refused int
}

// The wall clock of a node is stepped back 5 ms, then 2 s, while it issues
// an ID every millisecond; then the node is restarted with its clock 2 s
// behind the last ID it issued, once after a clean stop (its lease given
// back with the last timestamp used) and once after a crash (the lease
// runs out; every other worker ID is taken, so the node must get the same
// worker ID back). The generator never repeats an ID: it runs ahead of a
// clock that went back, it refuses an ID its lease does not cover, and a
// restarted node starts after whatever the lease carried. The figure is
// the duplicates (0) and the longest stall, the time between two IDs.
func TestFault06ClockStepBack(t *testing.T) {
	// A renewal every 667 ms: a slow machine does not let the lease lapse.
	const ttl = 2 * time.Second
	c := newCluster(t, 1, func(cfg *cluster.Config) { cfg.LeaseTTL = ttl })
	n := c.nodes[0]
	var nodeMu sync.Mutex
	current := func() *cluster.Node {
		nodeMu.Lock()
		defer nodeMu.Unlock()
		return n.node
	}
	seen := map[int64]string{}
	dups := 0
	var last int64 // the highest ID issued before the phase
	keep := func(phase string, ids []int64) {
		t.Helper()
		for i, id := range ids {
			if other, dup := seen[id]; dup {
				dups++
				t.Errorf("ID %d issued twice: %s and %s", id, other, phase)
			}
			seen[id] = phase
			// One generator issues increasing IDs; across a restart
			// the worker ID may differ, so only the timestamp must
			// grow, and it does when the lease carried LastMs.
			if i > 0 && id <= ids[i-1] {
				t.Errorf("%s: ID %d after %d: not increasing", phase, id, ids[i-1])
			}
			last = max(last, id)
		}
	}
	var phases []clockPhase
	var restarts []restartPhase

	for _, step := range []time.Duration{5 * time.Millisecond, 2 * time.Second} {
		name := fmt.Sprintf("stepped back %v", step)
		loop := startIDLoop(current)
		testenv.WaitFor(t, "IDs before the step", 10*time.Second, func() bool { return loop.count() >= 100 })
		before := loop.count()
		n.clock.Advance(-step)
		// The clock runs on for the length of the step plus half a lease
		// TTL (a deliberate duration, not a wait for an event), so that it
		// catches up with where it was and the lease is renewed (every
		// TTL/3) on the clock that went back.
		timer := time.NewTimer(step + ttl/2)
		<-timer.C
		ids, stall, refused, firstErr := loop.stop()
		if len(ids)-before < 100 {
			t.Fatalf("%s: only %d IDs after the step (%d refused, first: %v)", name, len(ids)-before, refused, firstErr)
		}
		if refused > 0 {
			t.Errorf("%s: %d IDs refused, first: %v", name, refused, firstErr)
		}
		// A generator that waited for the clock to catch up would stall
		// for the whole step.
		if step >= time.Second && stall >= step {
			t.Errorf("%s: %v without an ID: the generator waited for the clock", name, stall)
		}
		keep(name, ids)
		phases = append(phases, clockPhase{name, len(ids), stall, refused})
	}

	for _, crash := range []bool{false, true} {
		name := "clean stop"
		if crash {
			name = "crash"
			// Every other worker ID is taken: only the node's own one,
			// once its lease ends, is left to it.
			cluster.FillWorkers(t, n.node)
		}
		loop := startIDLoop(current)
		testenv.WaitFor(t, "IDs before the restart", 10*time.Second, func() bool { return loop.count() >= 100 })
		ids, _, _, _ := loop.stop()
		keep(name+", before", ids)
		worker := n.node.State().WorkerID
		lastMs := cluster.IDMs(last)
		fence := n.node.Fence()
		if crash {
			n.kill()
		} else {
			n.close()
		}
		stopped := time.Now()
		// The clock now reads 2 s before the last ID issued.
		n.clock.Advance(time.Duration(lastMs-2000-(n.clock.Now().UnixMilli()-snowflake.EpochUnixMilli)) * time.Millisecond)
		refusedStarts := restartUntilOpen(t, n, &nodeMu, 30*time.Second)
		first, err := n.node.NewID()
		if err != nil {
			t.Fatalf("%s: first ID after the restart: %v", name, err)
		}
		down := time.Since(stopped)
		firstMs := cluster.IDMs(first)
		_, gotWorker, _ := snowflake.Parse(first)
		t.Logf("%s: worker %d -> %d; last ID before at %d ms, fence %d ms; first ID after at %d ms, clock %d ms; %d opens refused; first ID %v after the stop",
			name, worker, gotWorker, lastMs, fence, firstMs, n.node.NowMs(), refusedStarts, down.Round(time.Millisecond))
		if int(gotWorker) != worker {
			t.Errorf("%s: worker ID %d after the restart, want %d back (the case under test)", name, gotWorker, worker)
		}
		if firstMs <= lastMs {
			t.Errorf("%s: first ID at %d ms, not after the last one issued before (%d ms)", name, firstMs, lastMs)
		}
		if crash && firstMs <= fence {
			t.Errorf("%s: first ID at %d ms, within the crashed holder's fence (%d ms)", name, firstMs, fence)
		}
		loop = startIDLoop(current)
		testenv.WaitFor(t, "IDs after the restart", 10*time.Second, func() bool { return loop.count() >= 100 })
		ids, stall, refused, firstErr := loop.stop()
		if refused > 0 {
			t.Errorf("%s: %d IDs refused after the restart, first: %v", name, refused, firstErr)
		}
		keep(name+", after", append([]int64{first}, ids...))
		restarts = append(restarts, restartPhase{name, down, refusedStarts, stall})
	}

	longest := time.Duration(0)
	measured := ""
	for _, p := range phases {
		longest = max(longest, p.stall)
		measured += fmt.Sprintf("%s: longest gap %v; ", p.name, p.stall.Round(time.Millisecond))
	}
	for _, r := range restarts {
		longest = max(longest, r.stall)
		measured += fmt.Sprintf("restart after a %s: first ID %v after the stop (%d opens refused), then longest gap %v; ",
			r.name, r.down.Round(time.Millisecond), r.refused, r.stall.Round(time.Millisecond))
	}
	t.Logf("%d IDs, %d duplicates; longest gap between IDs while running %v; %s", len(seen), dups, longest.Round(time.Millisecond), measured)
	faults.Record(t, faults.Row{
		Fault:    "wall clock stepped back 5 ms and 2 s while a loop asks for an ID every ms; node restarted 2 s behind its last ID after a clean stop and after a crash",
		Expected: "0 duplicate IDs; no ID refused and no 2 s wait for a step back; a restart starts after the lease's last timestamp",
		Measured: fmt.Sprintf("%d duplicates in %d IDs; longest gap while running %v; %s", dups, len(seen), longest.Round(time.Millisecond), strings.TrimSuffix(measured, "; ")),
	})
}

// restartPhase is one restart with the clock behind.
type restartPhase struct {
	name    string
	down    time.Duration // from the stop to the first ID
	refused int           // opens refused for want of a worker ID
	stall   time.Duration // longest gap between IDs after the restart
}

// restartUntilOpen opens a stopped node again on its addresses, retrying
// while Open fails because no worker ID is free (its own lease has not run
// out by its clock): the refusal under test. It returns how many opens
// were refused.
func restartUntilOpen(t *testing.T, n *tnode, mu *sync.Mutex, within time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", n.apiAddr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.apiAddr, err)
	}
	pub, err := net.Listen("tcp", n.publicAddr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.publicAddr, err)
	}
	n.serve(ln, pub)
	n.cfg.BindAddr = n.raftAddr
	refused := 0
	testenv.WaitFor(t, "the node to open again", within, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		node, err := cluster.Open(ctx, n.cfg)
		if errors.Is(err, fsm.ErrNoFreeWorker) {
			refused++
			return false
		}
		if err != nil {
			t.Fatalf("open %s again: %v", n.cfg.NodeID, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if err := n.install(node); err != nil {
			t.Fatal(err)
		}
		return true
	})
	return refused
}
