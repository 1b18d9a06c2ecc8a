//go:build faults

package cluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/netns"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestFault05RaftNemesis runs three control-plane node processes that hand
// out an ID and a code every 2 ms each, with a lease TTL of 2 s and small
// blocks (so that leases and blocks change hands all the time), every
// worker ID but theirs leased away (so that a lapsed lease is taken over,
// not left aside), each process in a network namespace of its own
// (internal/testkit/netns), and in turn: partitions a follower, then the
// leader (the kernel drops every packet to and from it), then cuts the
// leader one way (it sends, it hears nothing);
// pauses the leader (SIGSTOP) past its lease while a made-up node takes
// its worker ID; skews one node's clock +2 s and another's −2 s while the
// +2 s node takes over a live holder's worker ID, and kills the leader
// (SIGKILL) in that churn. Every lease and block command, with its
// invoke and return times, and every ID and code handed out go to a
// history that porcupine checks (history_test.go): no two holders of a
// worker ID at once (on the IDs' timeline), no overlapping blocks, and
// every ID inside a lease its node was granted (the paused holder fenced
// itself). The figure is the violations (0) and the time without a leader.
func TestFault05RaftNemesis(t *testing.T) {
	const (
		ttl  = 2 * time.Second
		skew = 2 * time.Second
	)
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	ca, err := clustertls.NewCA("nemesis CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCACert(certs); err != nil {
		t.Fatal(err)
	}
	// Each node in a network namespace of its own, on a bridge: a cut
	// drops its packets in the kernel. Registered before the processes'
	// cleanup, so removed after they are gone.
	nw := netns.New(t, 3)
	var nodes []*nemProc
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		ip := nw.Addr(i).String()
		if err := ca.WriteCert(certs, id, []string{ip}, time.Hour); err != nil {
			t.Fatal(err)
		}
		n := newNemProc(t, dir, nw, i, nemesisNode{
			NodeID:     id,
			DataDir:    filepath.Join(dir, id),
			RaftAddr:   net.JoinHostPort(ip, "7000"),
			APIAddr:    net.JoinHostPort(ip, "7443"),
			CertDir:    certs,
			Bootstrap:  i == 0,
			LeaseTTL:   ttl,
			BlockSize:  50,
			IssueEvery: 2 * time.Millisecond,
		})
		if i > 0 {
			n.s.Join = []string{"https://" + nodes[0].s.APIAddr}
		}
		nodes = append(nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.p != nil {
				_ = syscall.Kill(n.p.Pid(), syscall.SIGCONT) // if paused; it may be gone
				n.kill()
				if t.Failed() {
					t.Logf("the end of %s's log:\n%s", n.s.NodeID, n.p.LogTail(4000))
				}
			}
		}
	})
	ready := func(what string, within time.Duration, ns ...*nemProc) {
		t.Helper()
		testenv.WaitFor(t, what, within, func() bool {
			for _, n := range ns {
				if st, ok := n.state(); !ok || st.Ready != "" {
					return false
				}
			}
			return true
		})
	}
	byRole := func() (leader *nemProc, followers []*nemProc) {
		t.Helper()
		testenv.WaitFor(t, "a leader", 30*time.Second, func() bool {
			leader, followers = nil, nil
			for _, n := range nodes {
				st, ok := n.state()
				if ok && st.RaftState == "Leader" {
					leader = n
				} else {
					followers = append(followers, n)
				}
			}
			return leader != nil
		})
		return leader, followers
	}

	// The first node, then every worker ID but two leased away for a day,
	// then the two others: three worker IDs in play, so that a lease that
	// runs out is taken over rather than left aside for a fresh one.
	nodes[0].start()
	ready("the first node", 60*time.Second, nodes[0])
	var filled int
	if err := json.Unmarshal(nodes[0].must("POST", fmt.Sprintf("/fill?count=%d", fsm.NumWorkers-3)), &filled); err != nil || filled != fsm.NumWorkers-3 {
		t.Fatalf("fill: %d worker IDs taken (%v), want %d", filled, err, fsm.NumWorkers-3)
	}
	for _, n := range nodes[1:] {
		n.start()
		ready(n.s.NodeID+" to join", 60*time.Second, n)
	}
	testenv.WaitFor(t, "three voters", 60*time.Second, func() bool {
		st, ok := nodes[0].state()
		return ok && st.Voters == 3
	})
	watch := watchLeader(nodes)
	started := time.Now()
	hold(time.Second)

	// 1. A follower cut off past its lease, then healed.
	_, followers := byRole()
	f := followers[0]
	f.cut()
	fcut := time.Now()
	// The proof that the cut is one: the follower stops hearing the leader.
	testenv.WaitFor(t, f.s.NodeID+", cut off, to lose its leader", 10*time.Second, func() bool {
		st, ok := f.state()
		return ok && (st.LeaderID == "" || st.RaftState != "Follower")
	})
	lost := time.Since(fcut)
	hold(ttl + time.Second - lost)
	f.heal()
	ready("every node after the follower's partition", 60*time.Second, nodes...)
	t.Logf("1. %s cut off for %v (it lost its leader after %v), healed; ready again", f.s.NodeID,
		ttl+time.Second, lost.Round(time.Millisecond))

	// 2. The leader cut off, then healed.
	l, rest := byRole()
	newLeader := func(rest []*nemProc) {
		t.Helper()
		testenv.WaitFor(t, "a new leader among the others", 30*time.Second, func() bool {
			for _, n := range rest {
				if st, ok := n.state(); ok && st.RaftState == "Leader" {
					return true
				}
			}
			return false
		})
	}
	l.cut()
	cut := time.Now()
	newLeader(rest)
	t.Logf("2. leader %s cut off; a new leader after %v", l.s.NodeID, time.Since(cut).Round(time.Millisecond))
	hold(ttl + time.Second - time.Since(cut))
	l.heal()
	ready("every node after the leader's partition", 60*time.Second, nodes...)

	// 3. The leader deaf: what it sends goes out, nothing comes back (its
	// heartbeats still reach the others, their answers do not reach it).
	l, rest = byRole()
	l.nw.CutTo(l.idx)
	cut = time.Now()
	newLeader(rest)
	t.Logf("3. leader %s cut one way (it hears nothing); a new leader after %v", l.s.NodeID, time.Since(cut).Round(time.Millisecond))
	hold(ttl + time.Second - time.Since(cut))
	l.heal()
	ready("every node after the leader's one-way partition", 60*time.Second, nodes...)

	// 4. The leader paused past its lease; a made-up node takes its
	// worker ID meanwhile.
	x, rest := byRole()
	before, _ := x.state()
	x.signal(syscall.SIGSTOP)
	paused := time.Now()
	// The made-up node's acquire is refused until the paused node's lease
	// has run out by the clock of the node it goes through.
	// Each grab takes one run-out lease; a live node's that ran out in the
	// election is taken too (more churn), until the paused node's is.
	var grabbed struct{ Worker uint16 }
	grabs := 0
	testenv.WaitFor(t, "a made-up node to take the paused node's worker ID", 30*time.Second, func() bool {
		body, err := rest[0].control("POST", fmt.Sprintf("/grab?node=intruder-1.%d&ttl_ms=%d", grabs, ttl.Milliseconds()))
		if err != nil || json.Unmarshal(body, &grabbed) != nil {
			return false
		}
		grabs++
		return int(grabbed.Worker) == before.WorkerID
	})
	hold(2*ttl - time.Since(paused))
	x.signal(syscall.SIGCONT)
	resumed := time.Now()
	// The IDs it refused from its resuming to its next lease.
	var refusedAfterPause int64
	testenv.WaitFor(t, "the paused node to hold a lease again", 60*time.Second, func() bool {
		st, ok := x.state()
		if ok && st.WorkerID >= 0 {
			refusedAfterPause = st.Refused - before.Refused
		}
		return ok && st.WorkerID >= 0
	})
	t.Logf("4. %s (worker %d) paused for %v; taken over by a made-up node (%d grabs)", x.s.NodeID, before.WorkerID,
		resumed.Sub(paused).Round(time.Millisecond), grabs)
	ready("every node after the pause", 60*time.Second, nodes...)

	// 5. Clocks skewed +2 s and −2 s; the +2 s node sees every other
	// lease as run out and a made-up node takes one over from it; the
	// leader is killed in that churn and comes back.
	l, rest = byRole()
	ahead, behind := rest[0], rest[1]
	ahead.must("POST", fmt.Sprintf("/skew?ms=%d", skew.Milliseconds()))
	behind.must("POST", fmt.Sprintf("/skew?ms=%d", -skew.Milliseconds()))
	ahead.s.SkewMs, behind.s.SkewMs = skew.Milliseconds(), -skew.Milliseconds()
	hold(ttl / 2)
	testenv.WaitFor(t, "a made-up node to take a lease over through the node ahead", 30*time.Second, func() bool {
		body, err := ahead.control("POST", fmt.Sprintf("/grab?node=intruder-2&ttl_ms=%d", ttl.Milliseconds()))
		return err == nil && json.Unmarshal(body, &grabbed) == nil
	})
	l.kill()
	killed := time.Now()
	l.start()
	t.Logf("5. %s +%v, %s −%v; intruder-2 took worker %d through %s; leader %s killed and restarted",
		ahead.s.NodeID, skew, behind.s.NodeID, skew, grabbed.Worker, ahead.s.NodeID, l.s.NodeID)
	ready("every node after the kill", 90*time.Second, nodes...)
	t.Logf("   every node ready %v after the kill", time.Since(killed).Round(time.Millisecond))
	hold(ttl)

	// The clocks set right; a last stretch of quiet.
	for _, n := range nodes {
		n.must("POST", "/skew?ms=0")
	}
	ready("every node at the end", 60*time.Second, nodes...)
	hold(time.Second)
	without, longest := watch.result()
	ran := time.Since(started)
	for _, n := range nodes {
		n.kill()
	}

	// What the nodes saw of the network: silence and timeouts from the
	// cuts; refusals only from the killed node's restart.
	for _, n := range nodes {
		raw, err := os.ReadFile(n.p.Log)
		if err != nil {
			t.Fatal(err)
		}
		log := string(raw)
		first := ""
		if i := strings.Index(log, "i/o timeout"); i >= 0 {
			start := strings.LastIndexByte(log[:i], '\n') + 1
			first = log[start:min(len(log), i+20)]
		}
		t.Logf("%s's log: %d elections for want of heartbeats, %d \"i/o timeout\", %d \"connection refused\"; the first i/o timeout: %q",
			n.s.NodeID, strings.Count(log, "heartbeat timeout reached"), strings.Count(log, "i/o timeout"),
			strings.Count(log, "connection refused"), first)
	}

	ops, out := readHistory(t, dir)
	r := checkHistory(ops, out, time.Minute)
	// The paused node's IDs after it resumed: inside its fence, the end
	// of the lease as it knew it when it was paused.
	fence := int64(-1)
	for _, op := range ops {
		if op.Proc == x.s.Proc && op.Outcome == applied && op.Return < paused.UnixNano() &&
			(op.Kind == opAcquire && int(op.OutWorker) == before.WorkerID || op.Kind == opRenew && int(op.Worker) == before.WorkerID) {
			fence = max(fence, op.ExpiresMs)
		}
	}
	// IDs of the old lease: after it resumed and before it acquired a
	// lease again (maybe of the same worker ID).
	reacquired := int64(math.MaxInt64)
	for _, op := range ops {
		if op.Proc == x.s.Proc && op.Kind == opAcquire && op.Call > paused.UnixNano() {
			reacquired = min(reacquired, op.Call)
		}
	}
	afterPause := 0
	for _, x2 := range out {
		if x2.Proc == x.s.Proc && !x2.Code && x2.At > resumed.UnixNano() && x2.At < reacquired {
			_, w, _ := snowflake.Parse(x2.ID)
			if int(w) == before.WorkerID {
				afterPause++
				if ms := x2.ID >> (snowflake.WorkerBits + snowflake.SequenceBits); ms > fence {
					r.violate("the paused node issued ID %d at %d ms after it resumed, past its fence %d ms", x2.ID, ms, fence)
				}
			}
		}
	}
	// The fillers' acquires are a thousand trivial histories: counted
	// aside in the figure.
	fillers, leaseOps := 0, 0
	for _, op := range ops {
		switch {
		case strings.HasPrefix(op.Node, "filler-"):
			fillers++
		case op.Kind != opAllocate:
			leaseOps++
		}
	}
	for i, v := range r.violations {
		if i == 20 {
			t.Errorf("... and %d more", len(r.violations)-20)
			break
		}
		t.Error(v)
	}
	perNode := map[string]int{}
	for _, x2 := range out {
		perNode[x2.Node]++
	}
	for _, n := range nodes {
		if perNode[n.s.NodeID] < 1000 {
			t.Errorf("%s handed out only %d IDs and codes: the nemesis ran on an idle node", n.s.NodeID, perNode[n.s.NodeID])
		}
	}
	t.Logf("%v under the nemesis: %d commands recorded (%d lease grants, %d blocks; %d refused or unanswered left out), %d IDs and %d codes checked, "+
		"%d IDs issued by a holder after its worker ID had gone to another node (each checked against the new holder's start); "+
		"the paused node (fence %d ms) issued %d IDs under its old worker ID after resuming and refused %d until it held a lease again; %v without a leader, longest %v",
		ran.Round(time.Second), r.ops, r.grants, r.blocks, r.omitted, r.ids, r.codes, r.overlapIDs, fence, afterPause, refusedAfterPause, without.Round(time.Millisecond), longest.Round(time.Millisecond))
	faults.Record(t, faults.Row{
		Fault: "Raft nemesis, 3 node processes issuing IDs and codes, lease TTL 2 s: follower then leader partitioned 3 s (packets dropped), leader deaf 3 s (one way), " +
			"leader SIGSTOPped 4 s while its worker ID is taken over, clocks skewed ±2 s with a takeover, leader SIGKILLed in the churn",
		Expected: "0 violations (porcupine on every worker ID's leases and on the blocks; every ID inside its node's lease; no ID or code twice)",
		Measured: fmt.Sprintf("%d violations in %d lease commands (%d grants, fillers aside), %d blocks, %d IDs, %d codes; %.1f s without a leader in %.0f s (longest %.1f s)",
			len(r.violations), leaseOps, r.grants-fillers, r.blocks, r.ids, r.codes, without.Seconds(), ran.Seconds(), longest.Seconds()),
	})
}

// readHistory reads every process's history files: an op's return line
// replaces its call line.
func readHistory(t *testing.T, dir string) ([]grantOp, []issued) {
	t.Helper()
	type key struct {
		proc string
		op   int64
	}
	byKey := map[key]grantOp{}
	var order []key
	var out []issued
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no history in %s: %v", dir, err)
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if strings.HasPrefix(filepath.Base(path), "ops-") {
				var op grantOp
				if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
					t.Fatalf("%s:%d: %v", path, line, err)
				}
				k := key{op.Proc, op.Op}
				if _, seen := byKey[k]; !seen {
					order = append(order, k)
					op.Outcome = unknown // until its return line, if any
				}
				byKey[k] = op
				continue
			}
			var x issued
			if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
			out = append(out, x)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	ops := make([]grantOp, 0, len(order))
	for _, k := range order {
		ops = append(ops, byKey[k])
	}
	return ops, out
}
