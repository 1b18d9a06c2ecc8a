//go:build faults

package cluster_test

// The test side of the Raft nemesis's node processes: starting, signalling
// and cutting them, their control API, and the leader watch.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/netns"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// nemProc is one node process of the nemesis, across its incarnations.
type nemProc struct {
	t      *testing.T
	dir    string
	s      nemesisNode
	nw     *netns.Net
	idx    int // its node in nw
	inc    int
	p      *procs.Process
	client *http.Client // to its control API's Unix socket
}

// newNemProc prepares node idx of nw, its control API on a Unix socket
// in dir (reached by the test whatever the network does).
func newNemProc(t *testing.T, dir string, nw *netns.Net, idx int, s nemesisNode) *nemProc {
	s.ControlSock = filepath.Join(dir, s.NodeID+".sock")
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.ControlSock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &nemProc{t: t, dir: dir, s: s, nw: nw, idx: idx, client: &http.Client{Transport: tr, Timeout: 2 * time.Second}}
}

// cut drops every packet to and from the node until heal.
func (n *nemProc) cut() { n.nw.Cut(n.idx) }

// heal lets the node's packets through again.
func (n *nemProc) heal() { n.nw.Heal(n.idx) }

// start starts a new incarnation of the node's process.
func (n *nemProc) start() {
	n.t.Helper()
	n.inc++
	n.s.Proc = fmt.Sprintf("%s#%d", n.s.NodeID, n.inc)
	n.s.OpsFile = filepath.Join(n.dir, "ops-"+n.s.Proc+".jsonl")
	n.s.IssuedFile = filepath.Join(n.dir, "issued-"+n.s.Proc+".jsonl")
	raw, err := json.Marshal(n.s)
	if err != nil {
		n.t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := n.nw.Command(n.idx, exe, "-test.run=^TestNemesisNodeProcess$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), nemesisNodeEnv+"="+string(raw))
	p, err := procs.Start(n.s.Proc, cmd, filepath.Join(n.dir, n.s.NodeID+".log"))
	if err != nil {
		n.t.Fatal(err)
	}
	n.p = p
}

// kill kills the process as a crash would (SIGKILL).
func (n *nemProc) kill() { n.p.Kill() }

// signal sends sig (SIGSTOP, SIGCONT) to the process.
func (n *nemProc) signal(sig syscall.Signal) {
	n.t.Helper()
	if err := syscall.Kill(n.p.Pid(), sig); err != nil {
		n.t.Fatalf("%v to %s: %v", sig, n.s.Proc, err)
	}
}

// control calls the process's control API.
func (n *nemProc) control(method, path string) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+n.s.NodeID+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s %s on %s: %d %s", method, path, n.s.Proc, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, err
}

// must calls the control API and fails the test on an error.
func (n *nemProc) must(method, path string) []byte {
	n.t.Helper()
	body, err := n.control(method, path)
	if err != nil {
		n.t.Fatal(err)
	}
	return body
}

// state reads the node's state; ok is false when the process does not
// answer (paused, killed, starting).
func (n *nemProc) state() (nemesisState, bool) {
	body, err := n.control("GET", "/state")
	var st nemesisState
	if err != nil || json.Unmarshal(body, &st) != nil {
		return st, false
	}
	return st, st.Open
}

// stateWithin is state with its own timeout, for the leader watch: a
// paused node must not hold a sample up.
func (n *nemProc) stateWithin(d time.Duration) (nemesisState, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var st nemesisState
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+n.s.NodeID+"/state", nil)
	if err != nil {
		return st, false
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return st, false
	}
	return st, st.Open
}

// leaderWatch samples the nodes' states and adds up the time without a
// leader: a node that says it leads and that a majority names as leader.
type leaderWatch struct {
	mu       sync.Mutex
	without  time.Duration
	longest  time.Duration
	gapStart time.Time // zero while there is a leader
	stop     chan struct{}
	done     chan struct{}
}

func watchLeader(nodes []*nemProc) *leaderWatch {
	w := &leaderWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			states := make([]nemesisState, len(nodes))
			oks := make([]bool, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				wg.Go(func() { states[i], oks[i] = n.stateWithin(200 * time.Millisecond) })
			}
			wg.Wait()
			now := time.Now()
			votes := map[string]int{}
			leads := map[string]bool{}
			for i, st := range states {
				if !oks[i] {
					continue
				}
				if st.LeaderID != "" {
					votes[st.LeaderID]++
				}
				if st.RaftState == "Leader" {
					leads[nodes[i].s.NodeID] = true
				}
			}
			has := false
			for id := range leads {
				has = has || votes[id] > len(nodes)/2
			}
			w.mu.Lock()
			switch {
			case !has && w.gapStart.IsZero():
				w.gapStart = last // the leader was last seen at the sample before
			case has && !w.gapStart.IsZero():
				gap := now.Sub(w.gapStart)
				w.without += gap
				w.longest = max(w.longest, gap)
				w.gapStart = time.Time{}
			}
			w.mu.Unlock()
			last = now
		}
	}()
	return w
}

// result stops the watch and returns the time without a leader, in all
// and the longest stretch.
func (w *leaderWatch) result() (total, longest time.Duration) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.gapStart.IsZero() {
		gap := time.Since(w.gapStart)
		w.without += gap
		w.longest = max(w.longest, gap)
	}
	return w.without, w.longest
}

// hold lets the cluster run under a fault for d: a deliberate duration,
// not a wait for something to happen.
func hold(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}
