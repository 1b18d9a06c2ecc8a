package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/problem"
)

// The multi-node tests run real nodes in this process, each with its Raft
// transport and its REST API (the api package's handler on a real
// listener) on 127.0.0.1 ports picked by the kernel, and its data in a
// temporary directory.

// testSecret is the cluster secret of the test clusters.
const testSecret = "test-cluster-secret-0123456789"

// clock is the real clock moved by an offset that tests set.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// tnode is one node with its API.
type tnode struct {
	t     testing.TB
	cfg   cluster.Config
	node  *cluster.Node
	gate  *cluster.Gate
	clock *clock
	store linkstore.Store

	apiAddr  string // host:port of the API listener
	raftAddr string
	srv      *http.Server
	handler  atomic.Pointer[api.Handler]
}

// URL is the node's API base URL.
func (n *tnode) URL() string { return "http://" + n.apiAddr }

// ServeHTTP answers 503 while the node is starting or down, as the Caddy
// handler does.
func (n *tnode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := n.handler.Load()
	if h == nil {
		w.Header().Set("Retry-After", "1")
		problem.Write(w, http.StatusServiceUnavailable, "the control plane is starting or stopping")
		return
	}
	h.ServeHTTP(w, r)
}

// testLogger logs warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// nodeConfig is a node's config before it opens: a data directory, a free
// Raft port, the cluster secret, a gate and a clock of its own.
func nodeConfig(t testing.TB, id string) (cluster.Config, *cluster.Gate, *clock) {
	gate, clk := cluster.NewGate(), &clock{}
	cfg := cluster.Config{
		NodeID:   id,
		DataDir:  t.TempDir(),
		BindAddr: "127.0.0.1:0",
		Secret:   testSecret,
		Logger:   testLogger(t).With("test_node", id),
		Clock:    clk.Now,
	}
	cluster.WithGate(&cfg, gate)
	return cfg, gate, clk
}

// startNode listens for the API, opens the node (which joins through
// cfg.Join) and serves the API on it. It stops both when the test ends.
func startNode(t testing.TB, cfg cluster.Config, gate *cluster.Gate, clk *clock) *tnode {
	t.Helper()
	n := prepareNode(t, cfg, gate, clk)
	n.open(t)
	return n
}

// prepareNode serves the API of a node (503 until it opens) without
// opening the node.
func prepareNode(t testing.TB, cfg cluster.Config, gate *cluster.Gate, clk *clock) *tnode {
	t.Helper()
	n := &tnode{t: t, cfg: cfg, gate: gate, clock: clk}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.apiAddr = ln.Addr().String()
	n.cfg.APIAddr = n.URL()
	s, err := sqlitestore.Open(context.Background(), linkstore.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "links.db")})
	if err != nil {
		t.Fatal(err)
	}
	n.store = s
	t.Cleanup(s.Close)
	n.serve(ln)
	t.Cleanup(n.stopFast)
	return n
}

// stopFast stops the node, if it runs, without giving its lease back: fast, as
// no release waits for a quorum that the nodes closed before it took
// along. Tests close nodes (releasing) on purpose where it matters.
func (n *tnode) stopFast() {
	n.handler.Store(nil)
	if n.srv != nil {
		_ = n.srv.Close()
	}
	if n.node != nil {
		if err := n.node.Kill(); err != nil {
			n.t.Errorf("stop %s: %v", n.cfg.NodeID, err)
		}
	}
}

// serve serves the API on ln.
func (n *tnode) serve(ln net.Listener) {
	n.srv = &http.Server{Handler: n, ReadHeaderTimeout: 5 * time.Second}
	srv := n.srv
	go func() { _ = srv.Serve(ln) }()
}

// open opens the node and puts the API handler in place.
func (n *tnode) open(t testing.TB) {
	t.Helper()
	if err := n.tryOpen(); err != nil {
		t.Fatal(err)
	}
}

// tryOpen is open for another goroutine than the test's.
func (n *tnode) tryOpen() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := cluster.Open(ctx, n.cfg)
	if err != nil {
		return fmt.Errorf("open %s: %w", n.cfg.NodeID, err)
	}
	return n.install(node)
}

// install serves the API of an opened node.
func (n *tnode) install(node *cluster.Node) error {
	n.node = node
	n.raftAddr = node.State().Address
	// Anonymous creates: these tests are about the cluster, and the api
	// package tests keys and roles.
	h, err := api.New(api.Config{Logger: n.cfg.Logger, AnonymousCreate: true, PublicURL: "http://sho.test"}, api.Deps{
		Store:   n.store,
		Issuer:  node,
		Cluster: node,
		Ready:   func(context.Context) error { return node.Ready() },
	})
	if err != nil {
		return err
	}
	n.handler.Store(h)
	return nil
}

// close closes the API and the node, which releases its lease.
func (n *tnode) close() {
	n.handler.Store(nil)
	if n.srv != nil {
		_ = n.srv.Close()
	}
	if n.node != nil {
		if err := n.node.Close(); err != nil {
			n.t.Errorf("close %s: %v", n.cfg.NodeID, err)
		}
	}
}

// kill stops the node as a crash would: its API goes away and its lease
// is not released.
func (n *tnode) kill() {
	n.handler.Store(nil)
	_ = n.srv.Close()
	if err := n.node.Kill(); err != nil {
		n.t.Errorf("kill %s: %v", n.cfg.NodeID, err)
	}
}

// restart opens the node again on the addresses it had.
func (n *tnode) restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", n.apiAddr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.apiAddr, err)
	}
	n.serve(ln)
	n.cfg.BindAddr = n.raftAddr
	n.open(t)
}

// tcluster is a set of nodes.
type tcluster struct {
	t     testing.TB
	nodes []*tnode
}

// newCluster starts n nodes: the first bootstraps, the others join through
// the first one's API. tweak, if set, adjusts each node's config.
func newCluster(t testing.TB, size int, tweak func(cfg *cluster.Config)) *tcluster {
	t.Helper()
	c := &tcluster{t: t}
	started := time.Now()
	for i := range size {
		cfg, gate, clk := nodeConfig(t, fmt.Sprintf("n%d", i+1))
		if i == 0 {
			cfg.Bootstrap = true
		} else {
			cfg.Join = []string{c.nodes[0].URL()}
		}
		if tweak != nil {
			tweak(&cfg)
		}
		c.nodes = append(c.nodes, startNode(t, cfg, gate, clk))
	}
	// Joined nodes start as non-voters; the leader promotes them once
	// caught up. Tests that kill nodes need the full quorum.
	c.waitVoters(t, size)
	t.Logf("%d-node cluster ready in %v", size, time.Since(started).Round(time.Millisecond))
	return c
}

// waitVoters waits until the first node's configuration has n voters and
// no non-voter.
func (c *tcluster) waitVoters(t testing.TB, n int) {
	t.Helper()
	eventually(t, 15*time.Second, fmt.Sprintf("%d voters", n), func() bool {
		voters := 0
		for _, m := range c.nodes[0].node.Info().Nodes {
			switch m.Suffrage {
			case "voter":
				voters++
			default:
				return false
			}
		}
		return voters == n
	})
}

// leader waits until the given nodes agree on a leader among them and
// returns it.
func leader(t testing.TB, within time.Duration, nodes ...*tnode) *tnode {
	t.Helper()
	var found *tnode
	eventually(t, within, "an agreed leader", func() bool {
		found = nil
		var id string
		for _, n := range nodes {
			st := n.node.State()
			if st.LeaderID == "" || id != "" && st.LeaderID != id {
				return false
			}
			id = st.LeaderID
			if st.RaftState == "Leader" {
				found = n
			}
		}
		return found != nil && found.cfg.NodeID == id
	})
	return found
}

// others returns the nodes but x.
func others(nodes []*tnode, x *tnode) []*tnode {
	var out []*tnode
	for _, n := range nodes {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

// do sends a request to a node's API and returns the status and body.
func do(t testing.TB, method, url string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// secret is the header carrying the test cluster's secret.
var secret = map[string]string{cluster.SecretHeader: testSecret}

// wantProblem checks a problem document's status and detail.
func wantProblem(t testing.TB, status int, body []byte, wantStatus int, detailHas string) problem.Details {
	t.Helper()
	var p problem.Details
	if err := json.Unmarshal(body, &p); err != nil || status != wantStatus || p.Status != wantStatus || !bytes.Contains([]byte(p.Detail), []byte(detailHas)) {
		t.Fatalf("got %d %s, want a %d problem about %q (%v)", status, body, wantStatus, detailHas, err)
	}
	return p
}

// getInfo reads GET /api/v1/cluster from a node.
func getInfo(t testing.TB, n *tnode) cluster.Info {
	t.Helper()
	status, body := do(t, "GET", n.URL()+cluster.ClusterPath, nil, secret)
	if status != http.StatusOK {
		t.Fatalf("GET cluster from %s: %d %s", n.cfg.NodeID, status, body)
	}
	var info cluster.Info
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info
}
