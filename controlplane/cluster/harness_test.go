package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/problem"
)

// The multi-node tests run real nodes in this process, each with its Raft
// transport (mutual TLS), its public REST API (the api package's handler,
// plain HTTP) and its internal listener (the node-to-node routes, https
// with mutual TLS) on 127.0.0.1 ports picked by the kernel, and its data
// in a temporary directory. Certificates come from a cluster CA made in
// memory for the test binary.

var (
	caOnce sync.Once
	ca     *clustertls.Authority
	// memberClient calls internal listeners as a member (a certificate of
	// the test CA), as the operator's tooling in these tests.
	memberClient *http.Client
)

// testCA is the test binary's cluster CA.
func testCA(t testing.TB) *clustertls.Authority {
	t.Helper()
	caOnce.Do(func() {
		var err error
		if ca, err = clustertls.NewCA("test cluster CA", time.Hour); err != nil {
			panic(err)
		}
		tc, err := ca.Config("tester", "localhost")
		if err != nil {
			panic(err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc.Client("")
		memberClient = &http.Client{Transport: tr}
	})
	return ca
}

// testTLS is a node certificate of the test CA for the names the tests
// dial nodes by, and the extra ones.
func testTLS(t testing.TB, name string, extra ...string) *clustertls.Config {
	t.Helper()
	tc, err := testCA(t).Config(name, append([]string{"localhost", "127.0.0.1", "::1"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

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

	apiAddr      string // host:port of the internal listener
	publicAddr   string // host:port of the public API listener
	raftAddr     string
	srv, pubSrv  *http.Server
	handler      atomic.Pointer[http.Handler] // internal routes
	publicRoutes atomic.Pointer[http.Handler] // public API
}

// URL is the base URL of the node's internal listener: its api_addr.
func (n *tnode) URL() string { return "https://" + n.apiAddr }

// PublicURL is the base URL of the node's public API.
func (n *tnode) PublicURL() string { return "http://" + n.publicAddr }

// testLogger logs warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// nodeConfig is a node's config before it opens: a data directory, a free
// Raft port, a certificate of the test CA, a gate and a clock of its own.
func nodeConfig(t testing.TB, id string) (cluster.Config, *cluster.Gate, *clock) {
	gate, clk := cluster.NewGate(), &clock{}
	cfg := cluster.Config{
		NodeID:   id,
		DataDir:  t.TempDir(),
		BindAddr: "127.0.0.1:0",
		TLS:      testTLS(t, id),
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
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.apiAddr, n.publicAddr = ln.Addr().String(), pub.Addr().String()
	n.cfg.APIAddr = n.URL()
	s, err := sqlitestore.Open(context.Background(), linkstore.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "links.db")})
	if err != nil {
		t.Fatal(err)
	}
	n.store = s
	t.Cleanup(s.Close)
	n.serve(ln, pub)
	t.Cleanup(n.stopFast)
	return n
}

// stopFast stops the node, if it runs, without giving its lease back: fast, as
// no release waits for a quorum that the nodes closed before it took
// along. Tests close nodes (releasing) on purpose where it matters.
func (n *tnode) stopFast() {
	n.stopServing()
	if n.node != nil {
		if err := n.node.Kill(); err != nil {
			n.t.Errorf("stop %s: %v", n.cfg.NodeID, err)
		}
	}
}

// serve serves the internal routes on ln (https, mutual TLS, as the
// Caddy app's internal listener does) and the public API on pub.
func (n *tnode) serve(ln, pub net.Listener) {
	n.srv = &http.Server{Handler: api.Pending(&n.handler), TLSConfig: n.cfg.TLS.Server(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	n.pubSrv = &http.Server{Handler: api.Pending(&n.publicRoutes), ReadHeaderTimeout: 5 * time.Second}
	srv, pubSrv := n.srv, n.pubSrv
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	go func() { _ = pubSrv.Serve(pub) }()
}

// stopServing takes the handlers away and closes both listeners.
func (n *tnode) stopServing() {
	n.handler.Store(nil)
	n.publicRoutes.Store(nil)
	if n.srv != nil {
		_ = n.srv.Close()
		_ = n.pubSrv.Close()
	}
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
	var pub, internal http.Handler = h, api.NewInternal(node, n.cfg.Logger)
	n.publicRoutes.Store(&pub)
	n.handler.Store(&internal)
	return nil
}

// close closes the API and the node, which releases its lease.
func (n *tnode) close() {
	n.stopServing()
	if n.node != nil {
		if err := n.node.Close(); err != nil {
			n.t.Errorf("close %s: %v", n.cfg.NodeID, err)
		}
	}
}

// kill stops the node as a crash would: its API goes away and its lease
// is not released.
func (n *tnode) kill() {
	n.stopServing()
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
	pub, err := net.Listen("tcp", n.publicAddr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.publicAddr, err)
	}
	n.serve(ln, pub)
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

// do sends a request to a node's API and returns the status and body; an
// https URL (an internal listener) as a member.
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
	client := http.DefaultClient
	if req.URL.Scheme == "https" {
		testCA(t)
		client = memberClient
	}
	resp, err := client.Do(req)
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

// wantProblem checks a problem document's status and detail.
func wantProblem(t testing.TB, status int, body []byte, wantStatus int, detailHas string) problem.Details {
	t.Helper()
	var p problem.Details
	if err := json.Unmarshal(body, &p); err != nil || status != wantStatus || p.Status != wantStatus || !bytes.Contains([]byte(p.Detail), []byte(detailHas)) {
		t.Fatalf("got %d %s, want a %d problem about %q (%v)", status, body, wantStatus, detailHas, err)
	}
	return p
}

// addKey stores a new API key of the role through n (its leader when
// forwarded, which needs no caller key for the first key only) and
// returns it.
func addKey(t testing.TB, n *tnode, role string) string {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	e := fsm.KeyEntry{ID: k.ID, Name: role, Role: role, Hash: k.Hash[:], CreatedMs: time.Now().UnixMilli()}
	if _, err := n.node.Propose(t.Context(), fsm.AddKey{Key: e}); err != nil {
		t.Fatalf("add a %s key: %v", role, err)
	}
	eventually(t, 5*time.Second, "the key on "+n.cfg.NodeID, func() bool {
		_, ok := n.node.APIKey(k.ID)
		return ok
	})
	return k.Secret
}

// getInfo reads GET /api/v1/cluster from a node.
func getInfo(t testing.TB, n *tnode) cluster.Info {
	t.Helper()
	status, body := do(t, "GET", n.URL()+cluster.ClusterPath, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET cluster from %s: %d %s", n.cfg.NodeID, status, body)
	}
	var info cluster.Info
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info
}
