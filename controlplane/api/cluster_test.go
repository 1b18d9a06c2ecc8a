package api_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// clusterEnv is a one-node cluster with the public API handler and the
// internal handler (node-to-node routes) in front of it.
type clusterEnv struct {
	node     *cluster.Node
	h        http.Handler // public, as an admin unless the test says
	internal http.Handler
	url      string // the node's internal listener
}

// newClusterEnv opens a real node (bootstrapping a one-node cluster) with
// cluster TLS and an internal listener at its API address. withTLS false
// gives the node neither, as the single-node default has.
func newClusterEnv(t testing.TB, withTLS bool) *clusterEnv {
	t.Helper()
	s := teststore.SQLite(t)
	e := &clusterEnv{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.internal.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := cluster.Config{NodeID: "solo", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0", Bootstrap: true, Logger: logger}
	if withTLS {
		ca, err := clustertls.NewCA("api test CA", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.TLS, err = ca.Config("solo", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		cfg.APIAddr = srv.URL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node, err := cluster.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	h, err := newAPI(t, api.Config{Logger: logger}, api.Deps{Store: s, Issuer: node, Cluster: node})
	if err != nil {
		t.Fatal(err)
	}
	e.node, e.h, e.internal, e.url = node, h, api.NewInternal(node, logger), srv.URL
	return e
}

// do calls the public API (with an admin key unless header says).
func (e *clusterEnv) do(t *testing.T, method, path, contentType, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(e.h, request(method, path, contentType, body, header))
}

// member calls the internal handler as a member: a connection with a
// verified client certificate, as the internal listener's TLS makes it.
func (e *clusterEnv) member(t *testing.T, method, path, contentType, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(e.internal, asMember(request(method, path, contentType, body, header)))
}

func request(method, path, contentType, body string, header map[string]string) *http.Request {
	r := httptest.NewRequest(method, "http://cp.test"+path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

// asMember gives r the TLS state of a verified member certificate.
func asMember(r *http.Request) *http.Request {
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestGetCluster(t *testing.T) {
	e := newClusterEnv(t, true)
	w := e.do(t, "GET", "/api/v1/cluster", "", "", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET cluster: %d %s", w.Code, w.Body.String())
	}
	info := decode[cluster.Info](t, w)
	if info.NodeID != "solo" || info.RaftState != "Leader" || info.LeaderID != "solo" || info.LeaderAPIAddr != e.url ||
		info.Term == 0 || info.AppliedIndex == 0 || info.CommitIndex < info.AppliedIndex || info.WorkerID != 0 || len(info.Nodes) != 1 ||
		info.CommandVersion != fsm.CommandVersion {
		t.Fatalf("info = %+v", info)
	}
	m := info.Nodes[0]
	if m.ID != "solo" || m.APIAddr != e.url || m.Suffrage != "voter" || !m.Leader || len(m.WorkerIDs) != 1 || m.WorkerIDs[0] != 0 ||
		m.RaftAddr != e.node.State().Address {
		t.Fatalf("member = %+v", m)
	}
}

// Forwarded commands, on the internal handler: the leader applies valid
// ones and refuses the rest with a 4xx problem, leaving the state alone.
func TestApplyForwarded(t *testing.T) {
	e := newClusterEnv(t, true)
	const path = "/api/v1/cluster/apply"
	w := e.member(t, "POST", path, "application/json", `{"type":5,"command":{"node":"other","size":10}}`, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body.String())
	}
	var resp struct {
		Result struct{ Start, End uint64 } `json:"result"`
		Error  any                         `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Result.End != resp.Result.Start+10 || resp.Error != nil {
		t.Fatalf("apply answered %s (%v)", w.Body.String(), err)
	}
	// A refusal by the FSM is a result, not an HTTP error.
	w = e.member(t, "POST", path, "application/json", `{"type":3,"command":{"node":"nobody","worker":5,"gen":1,"now_ms":1,"ttl_ms":1}}`, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"kind":"not_holder"`) {
		t.Fatalf("renew of a lease nobody holds: %d %s", w.Code, w.Body.String())
	}

	tests := []struct {
		name, ct, body string
		header         map[string]string
		status         int
		detail         string
	}{
		{"admin command without a caller key", "application/json", `{"type":10,"command":{"domain":"x.example","blocked":true}}`, nil, 403, "forbidden"},
		{"admin command with a forged caller key", "application/json", `{"type":10,"command":{"domain":"x.example","blocked":true},"caller_key":"sk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, nil, 403, "forbidden"},
		{"not JSON", "application/json", `{`, nil, 400, "bad forwarded command"},
		{"empty", "application/json", ``, nil, 400, "bad forwarded command"},
		{"two values", "application/json", `{"type":5,"command":{"node":"x","size":1}} {}`, nil, 400, "more than one"},
		{"unknown envelope field", "application/json", `{"type":5,"command":{"node":"x","size":1},"x":1}`, nil, 400, "unknown field"},
		// A follower on a newer release forwards what this leader cannot
		// apply: it is refused before it reaches the log (an unknown field
		// that needs no newer version is ignored, see fsm.CommandVersion).
		{"command from a newer version", "application/json", `{"type":5,"command":{"_min_version":99,"node":"x","size":1,"x":1}}`, nil, 400, "needs a newer Shortify version"},
		{"wrong field type", "application/json", `{"type":5,"command":{"node":"x","size":"ten"}}`, nil, 400, "bad forwarded command"},
		{"trailing data in command", "application/json", `{"type":5,"command":"x"}`, nil, 400, "bad forwarded command"},
		{"no command", "application/json", `{"type":5}`, nil, 400, "bad forwarded command"},
		{"unknown type", "application/json", `{"type":99,"command":{}}`, nil, 400, "not a command followers forward"},
		{"init cluster", "application/json", `{"type":1,"command":{"key":"AAAA"}}`, nil, 400, "not a command followers forward"},
		{"form", "application/x-www-form-urlencoded", `type=5`, nil, 415, "application/json"},
		{"huge", "application/json", `{"type":5,"command":{"node":"` + strings.Repeat("x", 70<<10) + `"}}`, nil, 413, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.member(t, "POST", path, tt.ct, tt.body, tt.header), tt.status, tt.detail)
		})
	}
	if got := e.node.BlockedDomains(); len(got) != 0 {
		t.Fatalf("refused admin commands blocked %v", got)
	}
	// Without a verified member certificate the internal handler answers
	// nothing, should it ever be served without the listener's TLS.
	wantProblem(t, serve(e.internal, request("POST", path, "application/json", `{"type":5,"command":{"node":"x","size":1}}`, nil)),
		http.StatusForbidden, "cluster members")
	// None of the refused commands took a block: the next one starts where
	// the first ended. (The applied index is no witness: the node's own
	// lease renewals move it at any time.)
	first := resp.Result
	w = e.member(t, "POST", path, "application/json", `{"type":5,"command":{"node":"other","size":10}}`, nil)
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != http.StatusOK || resp.Result.Start != first.End {
		t.Fatalf("block after the refusals: %d %s (%v), want it to start at %d", w.Code, w.Body.String(), err, first.End)
	}
}

// TestApplyNotOnThePublicAPI: the public handler has no route for
// forwarded commands, whatever the caller sends (the old cluster-secret
// header, an admin key); the internal handler is the only one with it.
func TestApplyNotOnThePublicAPI(t *testing.T) {
	e := newClusterEnv(t, true)
	body := `{"type":10,"command":{"domain":"x.example","blocked":true}}`
	for name, header := range map[string]map[string]string{
		"admin key":  nil,
		"no key":     {api.KeyHeader: noKey},
		"old secret": {"X-Shortify-Cluster-Secret": "api-test-cluster-secret-42", api.KeyHeader: noKey},
	} {
		wantProblem(t, e.do(t, "POST", "/api/v1/cluster/apply", "application/json", body, header), http.StatusNotFound, "no API route")
		if got := e.node.BlockedDomains(); len(got) != 0 {
			t.Fatalf("%s: blocked %v", name, got)
		}
	}
}

func TestClusterChangesRefused(t *testing.T) {
	e := newClusterEnv(t, true)
	wantProblem(t, e.do(t, "DELETE", "/api/v1/cluster/nodes/solo", "", "", nil), http.StatusConflict, "last voter")
	wantProblem(t, e.do(t, "DELETE", "/api/v1/cluster/nodes/ghost", "", "", nil), http.StatusNotFound, "ghost")
	wantProblem(t, e.do(t, "POST", "/api/v1/cluster/join", "application/json", `{"node_id":"x","raft_addr":"127.0.0.1:1","api_addr":"https://127.0.0.1:1"}`, nil),
		http.StatusBadRequest, "cannot reach")
	wantProblem(t, e.do(t, "GET", "/api/v1/cluster/join", "", "", nil), http.StatusMethodNotAllowed, "POST")
	if n := len(e.node.Info().Nodes); n != 1 {
		t.Fatalf("%d members after refusals", n)
	}

	// A leader without cluster TLS (the single-node default) takes no one
	// in: nothing would prove the newcomer is a member.
	solo := newClusterEnv(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // something answers at the Raft address
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	body := `{"node_id":"x","raft_addr":"` + ln.Addr().String() + `","api_addr":"https://127.0.0.1:1"}`
	wantProblem(t, solo.do(t, "POST", "/api/v1/cluster/join", "application/json", body, nil), http.StatusConflict, "no cluster TLS")
}

func TestClusterRoutesWithoutANode(t *testing.T) {
	s := teststore.SQLite(t)
	h, err := newAPI(t, api.Config{}, api.Deps{Store: s, Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/cluster"}, {"POST", "/api/v1/cluster/join"}, {"DELETE", "/api/v1/cluster/nodes/x"},
	} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(r.method, r.path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, req)
		wantProblem(t, w, http.StatusServiceUnavailable, "no control-plane node")
	}
}

// FuzzClusterJoin: whatever bad body a join gets, it answers a 4xx
// problem and the membership stays as it was. Well-formed requests are
// left out: one could name a port that happens to listen (the membership
// tests cover those).
func FuzzClusterJoin(f *testing.F) {
	for _, s := range []string{
		`{"node_id":"a","raft_addr":"127.0.0.1:1","api_addr":"https://127.0.0.1:1"}`, `{}`, `[]`, `null`, `{"node_id":1}`,
		`{"node_id":"a b","raft_addr":"x","api_addr":"ftp://"}`, `{"node_id":"solo","raft_addr":"[::1]:1","api_addr":"h:1"}`,
	} {
		f.Add(s)
	}
	e := newClusterEnv(f, true)
	f.Fuzz(func(t *testing.T, body string) {
		var req cluster.JoinRequest
		if json.Unmarshal([]byte(body), &req) == nil && req.Validate() == nil {
			return
		}
		w := serve(e.h, request("POST", "/api/v1/cluster/join", "application/json", body, nil))
		if w.Code < 400 || w.Code >= 500 || w.Header().Get("Content-Type") != problem.ContentType {
			t.Fatalf("join %q: %d %s", body, w.Code, w.Body.String())
		}
		if n := len(e.node.Info().Nodes); n != 1 {
			t.Fatalf("join %q changed the membership: %d members", body, n)
		}
	})
}

// FuzzClusterApply: whatever body reaches the leader's apply route, it
// answers 200 (a command it applied) or a 4xx problem, and nothing it
// writes into the Raft log can make a replica panic (the node would die).
func FuzzClusterApply(f *testing.F) {
	for _, s := range []string{
		`{"type":5,"command":{"node":"x","size":3}}`, `{"type":2,"command":{"node":"x","now_ms":1,"ttl_ms":5}}`,
		`{"type":6,"command":{"id":"n","raft_addr":"h:1"}}`, `{"type":7,"command":{"id":"n"}}`, `{"type":1,"command":{}}`,
		`{"type":5,"command":{"node":"x","size":-1}}`, `{"type":4,"command":null}`, `{}`, `[]`, `null`, `{"type":"5"}`,
	} {
		f.Add(s)
	}
	e := newClusterEnv(f, true)
	f.Fuzz(func(t *testing.T, body string) {
		w := serve(e.internal, asMember(request("POST", "/api/v1/cluster/apply", "application/json", body, nil)))
		switch {
		case w.Code == http.StatusOK:
		case w.Code >= 400 && w.Code < 500 && w.Header().Get("Content-Type") == problem.ContentType:
		default:
			t.Fatalf("apply %q: %d %s", body, w.Code, w.Body.String())
		}
		if st := e.node.State(); st.RaftState != "Leader" {
			t.Fatalf("after %q the node is %s", body, st.RaftState)
		}
	})
}
