package deploy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// onDemandControlPlane is a one-node control plane (the shortify app and
// its API, nothing else) for TestOnDemandTLSThroughEdges: the role
// Caddyfile's cluster TLS, Kafka and Redis add nothing to what that test
// proves, which is the registry reaching the edges and the front door.
const onDemandControlPlane = `{
	admin {$SHORTIFY_ADMIN}
	default_bind {$SHORTIFY_BIND}
	auto_https off
	persist_config off
	shortify {
		data_dir {$SHORTIFY_DATA_DIR}
		raft_bind {$SHORTIFY_RAFT_BIND}
		database {$SHORTIFY_DATABASE_URL}
		public_url https://sho.test
		initial_api_key {env.SHORTIFY_INITIAL_API_KEY}
		target_resolver {$SHORTIFY_RESOLVER}
		domain_resolver {$SHORTIFY_RESOLVER}
	}
}
http://:{$SHORTIFY_PORT} {
	shortify_api
}
http://:{$SHORTIFY_OPS_PORT} {
	respond /healthz "ok" 200
}
`

// edgeRole is the edges' role Caddyfile.
var edgeRole = filepath.Join("caddyfiles", "edge.Caddyfile")

// onDemandTarget is where the test's links go; the loopback DNS server
// gives it a public address, so that the target check passes offline.
const onDemandTarget = "target.example.org"

// TestOnDemandTLSThroughEdges is the custom-domain flow end to end, on
// both link stores: a control plane (the real shortify app and API in a
// Caddy process), two edges (edge.Caddyfile, SHORTIFY_HOSTS=sho.test)
// on the same link database, and the front door (frontdoor.Caddyfile,
// SHORTIFY_TLS on_demand, the internal issuer). Through the API an
// instance admin makes a workspace and its admin key; that key adds two
// domains, publishes one's TXT challenge in a loopback DNS server (the
// control plane's domain_resolver), verifies it and makes a link on it.
// Over HTTPS, with a client pinned to the internal CA dialing the front
// door: the verified domain's link redirects; an unknown domain and the
// unverified one get no certificate. Then the domain is deleted, and the
// test measures how long until both edges (each directly, by Host) and
// the front door (its certificate still cached) answer 404 for it.
func TestOnDemandTLSThroughEdges(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if store == "sqlite" {
				dsn = "sqlite://" + filepath.Join(t.TempDir(), "links.db")
			} else {
				dsn = testenv.Schema(t)
			}
			testOnDemandThroughEdges(t, dsn)
		})
	}
}

func testOnDemandThroughEdges(t *testing.T, dsn string) {
	begin := time.Now()
	// Domains of this run's own: the edges share the test Redis (L2),
	// whose keys name the domain.
	suffix := randomLabel(t)
	verified, pending, unknown := "go-"+suffix+".example.com", "pending-"+suffix+".example.com", "unknown-"+suffix+".example.com"

	dns := newDNSRelay(t)
	dns.serve(t, nil)
	initial, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	adminKey := initial.Secret
	cpFile := filepath.Join(t.TempDir(), "controlplane.Caddyfile")
	if err := os.WriteFile(cpFile, []byte(onDemandControlPlane), 0o644); err != nil {
		t.Fatal(err)
	}
	cp := runCaddy(t, cpFile, map[string]string{
		"SHORTIFY_DATA_DIR":        t.TempDir(),
		"SHORTIFY_RAFT_BIND":       testenv.FreeAddr(t),
		"SHORTIFY_DATABASE_URL":    dsn,
		"SHORTIFY_INITIAL_API_KEY": adminKey,
		"SHORTIFY_RESOLVER":        dns.addr,
	})
	cpURL := "http://" + cp.Public
	testenv.WaitFor(t, "the control plane ready", 30*time.Second, func() bool {
		resp, err := http.Get(cpURL + "/api/v1/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// Two edges after the control plane, which migrated the database.
	var edges []*caddyProcess
	for range 2 {
		edges = append(edges, runCaddy(t, edgeRole, map[string]string{
			"SHORTIFY_DATABASE_URL": dsn,
			"SHORTIFY_REDIS":        testenv.RedisAddr(t),
			"SHORTIFY_HOSTS":        "sho.test",
		}))
	}
	_, httpPort, _ := net.SplitHostPort(testenv.FreeAddr(t))
	_, edgeOps, _ := net.SplitHostPort(edges[0].Ops) // both edges on 127.0.0.1: edge1's ops port checks both
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_TLS":                     "on_demand",
		"SHORTIFY_ON_DEMAND_ISSUER":        "internal",
		"SHORTIFY_DOMAIN_CHECK_URL":        cpURL + "/api/v1/domains/allowed",
		"SHORTIFY_HTTP_PORT":               httpPort,
		"SHORTIFY_EDGE_UPSTREAMS":          edges[0].Public + " " + edges[1].Public,
		"SHORTIFY_EDGE_OPS_PORT":           edgeOps,
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": cp.Public,
	})
	started := time.Since(begin)

	// The customer's steps, through the API.
	api := apiClient{t: t, base: cpURL}
	var ws struct{ ID int64 }
	api.call(adminKey, "POST", "/api/v1/workspaces", `{"name":"acme"}`, http.StatusCreated, &ws)
	var key struct{ Key string }
	api.call(adminKey, "POST", "/api/v1/admin/keys", `{"name":"acme admin","role":"admin","workspace":"acme"}`, http.StatusCreated, &key)
	var dom struct {
		Challenge struct{ Name, Value string }
	}
	api.call(key.Key, "POST", "/api/v1/domains", `{"domain":"`+verified+`"}`, http.StatusCreated, &dom)
	api.call(key.Key, "POST", "/api/v1/domains", `{"domain":"`+pending+`"}`, http.StatusCreated, nil)
	api.call(key.Key, "POST", "/api/v1/domains/"+verified+"/verify", "", http.StatusUnprocessableEntity, nil)
	dns.serve(t, map[string][]string{dom.Challenge.Name: {dom.Challenge.Value}})
	api.call(key.Key, "POST", "/api/v1/domains/"+verified+"/verify", "", http.StatusOK, nil)
	api.call(key.Key, "POST", "/api/v1/domains/"+pending+"/verify", "", http.StatusUnprocessableEntity, nil)
	var link struct {
		ShortURL string `json:"short_url"`
	}
	api.call(key.Key, "POST", "/api/v1/links", `{"url":"https://`+onDemandTarget+`/landing","alias":"promo","domain":"`+verified+`"}`, http.StatusCreated, &link)
	if link.ShortURL != "https://"+verified+"/promo" {
		t.Fatalf("short_url %q, want https://%s/promo", link.ShortURL, verified)
	}

	// Over HTTPS through the front door: the link redirects once every
	// edge has read the verified domain (domain_refresh).
	client := pinnedClient(t, fd)
	var redirectedAfter time.Duration
	verifiedAt := time.Now()
	testenv.WaitFor(t, "the link on "+verified+" redirecting through the front door", 15*time.Second, func() bool {
		resp, err := client.Get(link.ShortURL)
		if err != nil {
			t.Fatalf("HTTPS to %s: %v", verified, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 3 {
			return false
		}
		if loc := resp.Header.Get("Location"); loc != "https://"+onDemandTarget+"/landing" {
			t.Fatalf("HTTPS to %s: Location %q", link.ShortURL, loc)
		}
		if err := resp.TLS.PeerCertificates[0].VerifyHostname(verified); err != nil {
			t.Fatalf("certificate for %s: %v", verified, err)
		}
		redirectedAfter = time.Since(verifiedAt)
		return true
	})
	for _, e := range edges {
		testenv.WaitFor(t, "edge "+e.Public+" redirecting "+verified, 5*time.Second, func() bool {
			return edgeStatus(t, e, verified, "/promo")/100 == 3
		})
		if got := edgeStatus(t, e, "sho.test", "/promo"); got != http.StatusNotFound {
			t.Fatalf("edge %s: /promo on the own host: %d, want 404 (the alias lives on %s only)", e.Public, got, verified)
		}
	}
	wantNoCertificate(t, client, unknown)
	wantNoCertificate(t, client, pending)

	// Deleting the domain (a link lives on it: refused without
	// delete_links): every edge stops answering for it.
	api.call(key.Key, "DELETE", "/api/v1/domains/"+verified, "", http.StatusConflict, nil)
	api.call(key.Key, "DELETE", "/api/v1/domains/"+verified+"?delete_links=true", "", http.StatusNoContent, nil)
	deleted := time.Now()
	// One poll over every edge and the front door (which still holds
	// the certificate: docs/domains.md), so that each gets its own time.
	stopped := map[string]time.Duration{}
	testenv.WaitFor(t, "every edge and the front door answering 404 for the deleted "+verified, 10*time.Second, func() bool {
		for _, e := range edges {
			if _, ok := stopped["edge "+e.Public]; !ok && edgeStatus(t, e, verified, "/promo") == http.StatusNotFound {
				stopped["edge "+e.Public] = time.Since(deleted)
			}
		}
		if _, ok := stopped["front door (HTTPS)"]; !ok {
			if resp, err := client.Get(link.ShortURL); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound {
					stopped["front door (HTTPS)"] = time.Since(deleted)
				}
			}
		}
		return len(stopped) == len(edges)+1
	})
	t.Logf("started in %v; first HTTPS redirect %v after the create; after DELETE, 404 at: %v",
		started.Round(time.Millisecond), redirectedAfter.Round(time.Millisecond), roundAll(stopped))
}

// edgeStatus is the status an edge answers GET path with Host host, not
// following redirects.
func edgeStatus(t *testing.T, e *caddyProcess, host, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+e.Public+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("edge %s: %v", e.Public, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noRedirects returns redirects as answers.
var noRedirects = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

func roundAll(m map[string]time.Duration) map[string]time.Duration {
	out := make(map[string]time.Duration, len(m))
	for k, v := range m {
		out[k] = v.Round(time.Millisecond)
	}
	return out
}

// randomLabel is 8 random hex digits, a DNS label.
func randomLabel(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// apiClient calls the control plane's API as a key.
type apiClient struct {
	t    *testing.T
	base string
}

// call sends body (JSON, or none when empty) and fails unless the answer
// has status want; it decodes the answer into out unless out is nil.
func (c apiClient) call(key, method, path, body string, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// dnsRelay is a UDP address on loopback that passes every DNS query to
// the real DNS server (targeturltest) serving the current records: a
// process started before a TXT challenge exists is given the relay's
// address, and the test swaps the server behind it when it publishes.
type dnsRelay struct {
	addr     string
	pc       net.PacketConn
	upstream atomic.Pointer[string]
}

func newDNSRelay(t *testing.T) *dnsRelay {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &dnsRelay{addr: pc.LocalAddr().String(), pc: pc}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			query := append([]byte(nil), buf[:n]...)
			wg.Go(func() { r.forward(query, from) })
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return r
}

// serve makes the relay ask a new DNS server with onDemandTarget's
// address and the TXT records txt.
func (r *dnsRelay) serve(t *testing.T, txt map[string][]string) {
	addr := targeturltest.DNSServerAddr(t, map[string][]string{onDemandTarget: {"93.184.215.14"}}, txt)
	r.upstream.Store(&addr)
}

// forward asks the current server and writes its answer back to from.
func (r *dnsRelay) forward(query []byte, from net.Addr) {
	c, err := net.Dial("udp", *r.upstream.Load())
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(query); err != nil {
		return
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	_, _ = r.pc.WriteTo(buf[:n], from)
}
