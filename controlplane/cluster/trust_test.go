package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// Regression tests of issue 12, findings 1 and 2: who may append to the
// Raft log and apply commands through another node.

// intruderEntry is the key an attacker tries to add: an admin key of its
// own.
func intruderEntry(t testing.TB) (apikey.Key, fsm.KeyEntry) {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	return k, fsm.KeyEntry{ID: k.ID, Name: "intruder", Role: "admin", Hash: k.Hash[:], CreatedMs: time.Now().UnixMilli()}
}

// dialStream is a raft.StreamLayer that only dials, with dial.
type dialStream struct {
	ln   net.Listener
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

func (s *dialStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *dialStream) Close() error              { return s.ln.Close() }
func (s *dialStream) Addr() net.Addr            { return s.ln.Addr() }
func (s *dialStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, string(addr))
}

// tlsStream dials with TLS as cfg says.
func tlsStream(t testing.TB, cfg *tls.Config) *dialStream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &dialStream{ln: ln, dial: func(ctx context.Context, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: cfg}
		return d.DialContext(ctx, "tcp", addr)
	}}
}

// appendAsLeader sends the target one AppendEntries RPC, as a leader of a
// later term would, through a raft transport over stream: an entry that
// adds e, committed at once. It returns the transport's error, or an
// error when raft answered but did not take the entry.
func appendAsLeader(t testing.TB, target *tnode, stream raft.StreamLayer, e fsm.KeyEntry) error {
	t.Helper()
	trans := raft.NewNetworkTransport(stream, 1, 3*time.Second, io.Discard)
	defer trans.Close()
	r := target.node.Raft()
	last := r.LastIndex()
	lastTerm, err := strconv.ParseUint(r.Stats()["last_log_term"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	term := r.CurrentTerm() + 10
	data, err := fsm.Encode(fsm.AddKey{Key: e})
	if err != nil {
		t.Fatal(err)
	}
	req := &raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(stream.Addr().String())},
		Term:              term,
		PrevLogEntry:      last,
		PrevLogTerm:       lastTerm,
		Entries:           []*raft.Log{{Index: last + 1, Term: term, Type: raft.LogCommand, Data: data}},
		LeaderCommitIndex: last + 1,
	}
	var resp raft.AppendEntriesResponse
	if err := trans.AppendEntries(raft.ServerID(target.cfg.NodeID), raft.ServerAddress(target.raftAddr), req, &resp); err != nil {
		return err
	}
	if !resp.Success {
		return errors.New("raft answered but refused the entry")
	}
	return nil
}

// TestRaftRefusesPeersWithoutMemberCertificate reproduces finding 2: a
// client that connects to the Raft port sends an AppendEntries RPC that
// commits an entry adding an admin key. A plain TCP client (the attack of
// the issue) and a TLS client with a certificate of another CA get nothing
// in: the key ring and the log stay as they were. A client with a member
// certificate gets the same RPC through, which shows that the refusals are
// the certificate's doing and not a broken RPC.
func TestRaftRefusesPeersWithoutMemberCertificate(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[0]
	keysBefore := n.node.APIKeys()

	otherClient := strangerClient(t)

	attacks := map[string]raft.StreamLayer{
		"plain TCP": &dialStream{ln: mustListen(t), dial: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}},
		"TLS without a client certificate":  tlsStream(t, &tls.Config{InsecureSkipVerify: true}),
		"TLS with another CA's certificate": tlsStream(t, otherClient),
	}
	for name, stream := range attacks {
		t.Run(name, func(t *testing.T) {
			_, e := intruderEntry(t)
			lastBefore := n.node.Raft().LastIndex()
			if err := appendAsLeader(t, n, stream, e); err == nil {
				t.Fatal("the Raft port took an entry from a peer without a member certificate")
			}
			if err := n.node.Raft().Barrier(5 * time.Second).Error(); err != nil {
				t.Fatalf("the node lost its leadership to the intruder: %v", err)
			}
			if _, ok := n.node.APIKey(e.ID); ok {
				t.Fatal("the intruder's key is in the key ring")
			}
			if got := n.node.APIKeys(); !slices.EqualFunc(got, keysBefore, keyEqual) {
				t.Fatalf("key ring changed: %+v", got)
			}
			if got := n.node.Raft().LastIndex(); got > lastBefore+1 { // +1: the barrier
				t.Fatalf("log grew from %d to %d", lastBefore, got)
			}
		})
	}

	// The control: the same RPC with a member certificate is taken.
	member, err := testCA(t).Config("member", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, e := intruderEntry(t)
	if err := appendAsLeader(t, n, tlsStream(t, member.Client("127.0.0.1")), e); err != nil {
		t.Fatalf("control: a member's AppendEntries failed, so the attacks above prove nothing: %v", err)
	}
	eventually(t, 5*time.Second, "the member's entry applied", func() bool {
		_, ok := n.node.APIKey(e.ID)
		return ok
	})
}

// strangerClient is the TLS client config of an intruder with a
// certificate of another CA, which trusts any server (the node must not
// trust it).
func strangerClient(t testing.TB) *tls.Config {
	t.Helper()
	other, err := clustertls.NewCA("another cluster", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherTLS, err := other.Config("intruder", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := otherTLS.Client("")
	c.InsecureSkipVerify = true
	return c
}

func keyEqual(a, b fsm.KeyEntry) bool { return a.ID == b.ID && a.RevokedMs == b.RevokedMs }

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// applyBody is the body of POST ApplyPath for an AddKey of e.
func applyBody(t testing.TB, e fsm.KeyEntry, callerKey string) map[string]any {
	t.Helper()
	data, err := fsm.Encode(fsm.AddKey{Key: e})
	if err != nil {
		t.Fatal(err)
	}
	b := map[string]any{"type": int(fsm.TypeAddKey), "command": jsonRaw(data[1:])}
	if callerKey != "" {
		b["caller_key"] = callerKey
	}
	return b
}

// jsonRaw keeps a JSON payload as it is when marshalled.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

// TestApplyIsNotOnThePublicAPI reproduces finding 1's first half: POST
// /api/v1/cluster/apply on the public API (what the front door forwards
// /api/* to) with an AddKey command. It answers 404 whatever the headers
// (the old cluster-secret header, an admin key), and applies nothing.
func TestApplyIsNotOnThePublicAPI(t *testing.T) {
	c := newCluster(t, 2, nil)
	l := leader(t, 10*time.Second, c.nodes...)
	admin := addKey(t, l, "admin")
	for _, n := range c.nodes {
		for name, header := range map[string]map[string]string{
			"no header":        nil,
			"old secret":       {"X-Shortify-Cluster-Secret": "test-cluster-secret-0123456789"},
			"admin key":        {"X-Api-Key": admin},
			"forwarded marker": {cluster.ForwardedHeader: "n1"},
		} {
			_, e := intruderEntry(t)
			status, body := do(t, "POST", n.PublicURL()+cluster.ApplyPath, applyBody(t, e, admin), header)
			wantProblem(t, status, body, http.StatusNotFound, "no API route")
			if _, ok := l.node.APIKey(e.ID); ok {
				t.Fatalf("%s, %s: the key was added", n.cfg.NodeID, name)
			}
		}
	}
}

// TestInternalListenerNeedsMemberCertificate: the internal listener
// refuses TLS clients without a certificate of the cluster CA at the
// handshake.
func TestInternalListenerNeedsMemberCertificate(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[0]
	otherClient := strangerClient(t)
	for name, cfg := range map[string]*tls.Config{
		"no certificate":           {InsecureSkipVerify: true},
		"another CA's certificate": otherClient,
	} {
		t.Run(name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: cfg}
			defer tr.CloseIdleConnections()
			_, e := intruderEntry(t)
			body := fmt.Sprintf(`{"type":%d,"command":{"key":{"id":%q,"name":"x","role":"admin","hash":"AAAA","created_ms":1}}}`, fsm.TypeAddKey, e.ID)
			req, err := http.NewRequestWithContext(t.Context(), "POST", n.URL()+cluster.ApplyPath, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("the internal listener answered %d to a client without a member certificate", resp.StatusCode)
			}
			if _, ok := n.node.APIKey(e.ID); ok {
				t.Fatal("the key was added")
			}
		})
	}
}

// TestForwardedAdminCommandNeedsAdminKey reproduces finding 1's second
// half: a member (a valid certificate) asks the leader to apply AddKey.
// Without a caller key, with a forged one, a revoked one or a key below
// admin, the leader refuses with 403 and applies nothing; with an admin
// key of its own key ring it applies it. A follower's own forwarding
// passes the caller key along.
func TestForwardedAdminCommandNeedsAdminKey(t *testing.T) {
	c := newCluster(t, 2, nil)
	l := leader(t, 10*time.Second, c.nodes...)
	f := others(c.nodes, l)[0]
	admin := addKey(t, l, "admin")
	viewer := addKey(t, l, "viewer")
	creator := addKey(t, l, "creator")
	revoked := addKey(t, l, "admin")
	revokedID, _ := apikey.Parse(revoked)
	if _, err := l.node.Propose(t.Context(), fsm.RevokeKey{ID: revokedID, AtMs: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	forged, _ := intruderEntry(t)
	adminID, _ := apikey.Parse(admin)
	wrongSecret := "sk_" + adminID + "_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	for name, key := range map[string]string{
		"no caller key":              "",
		"unknown key":                forged.Secret,
		"admin ID with wrong secret": wrongSecret,
		"viewer key":                 viewer,
		"creator key":                creator,
		"revoked admin key":          revoked,
		"malformed key":              "not-a-key",
	} {
		t.Run(name, func(t *testing.T) {
			_, e := intruderEntry(t)
			status, body := do(t, "POST", l.URL()+cluster.ApplyPath, applyBody(t, e, key), map[string]string{cluster.ForwardedHeader: f.cfg.NodeID})
			wantProblem(t, status, body, http.StatusForbidden, "forbidden")
			if _, ok := l.node.APIKey(e.ID); ok {
				t.Fatal("the key was added")
			}
		})
	}

	// With an admin key, directly and through a follower's forwarding.
	_, e := intruderEntry(t)
	if status, body := do(t, "POST", l.URL()+cluster.ApplyPath, applyBody(t, e, admin), nil); status != http.StatusOK {
		t.Fatalf("apply with an admin key: %d %s", status, body)
	}
	if _, ok := l.node.APIKey(e.ID); !ok {
		t.Fatal("the admin's key was not added")
	}
	_, e2 := intruderEntry(t)
	if err := f.node.AddAPIKey(t.Context(), e2, false); !errors.Is(err, cluster.ErrForbidden) {
		t.Fatalf("a follower's AddKey without a caller: %v, want ErrForbidden", err)
	}
	if err := f.node.AddAPIKey(cluster.WithCallerKey(t.Context(), viewer), e2, false); !errors.Is(err, cluster.ErrForbidden) {
		t.Fatalf("a follower's AddKey for a viewer: %v, want ErrForbidden", err)
	}
	if _, ok := l.node.APIKey(e2.ID); ok {
		t.Fatal("a refused forwarded key was added")
	}
	if err := f.node.AddAPIKey(cluster.WithCallerKey(t.Context(), admin), e2, false); err != nil {
		t.Fatalf("a follower's AddKey for an admin: %v", err)
	}
	if _, ok := l.node.APIKey(e2.ID); !ok {
		t.Fatal("the forwarded admin key was not added")
	}
}
