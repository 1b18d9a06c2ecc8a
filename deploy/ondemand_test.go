package deploy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
)

// TestFrontDoorOnDemandTLS runs the front door with SHORTIFY_TLS
// on_demand and Caddy's internal issuer, asking a running control plane's
// GET /api/v1/domains/allowed (a Raft node's registry behind the real
// API handler). A domain registered through the node, whose TXT
// challenge a loopback DNS server carries, and then verified gets a
// certificate of the internal CA and an HTTPS answer; an unknown domain
// and a registered but unverified one get no certificate. After
// DeleteDomain a name that had no certificate yet gets none; one that had
// keeps being served from Caddy's cache (docs/domains.md says so).
func TestFrontDoorOnDemandTLS(t *testing.T) {
	t.Parallel()
	node, err := cluster.Open(t.Context(), cluster.Config{NodeID: "n1", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0",
		Bootstrap: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	h, err := api.New(api.Config{PublicURL: "https://sho.test"}, api.Deps{Store: teststore.SQLite(t), Issuer: node, Domains: node})
	if err != nil {
		t.Fatal(err)
	}
	controlPlane := httptest.NewServer(h)
	t.Cleanup(controlPlane.Close)

	// Three domains are added; the customers of two publish their
	// challenges in DNS, and only those pass the TXT check and are
	// verified.
	ws := int64(workspace.DefaultID)
	const verified, second, pending, unknown = "go.example.com", "second.example.com", "pending.example.com", "unknown.example.com"
	txt := map[string][]string{}
	for _, d := range []string{verified, second, pending} {
		challenge, err := domainverify.NewChallenge()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.AddDomain(t.Context(), fsm.AddDomain{Domain: d, Workspace: ws, Challenge: challenge, AtMs: time.Now().UnixMilli()}); err != nil {
			t.Fatal(err)
		}
		if d != pending {
			txt[domainverify.RecordName(d)] = []string{domainverify.RecordValue(challenge)}
		}
	}
	dns := domainverify.Verifier{Resolver: targeturltest.DNSServerAddr(t, nil, txt)}
	for _, d := range []string{verified, second, pending} {
		entry, _ := node.Domain(d)
		err := dns.Verify(t.Context(), d, entry.Challenge)
		if d == pending {
			if !errors.Is(err, domainverify.ErrNoRecord) {
				t.Fatalf("TXT check of %s without a record: %v", d, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.VerifyDomain(t.Context(), fsm.VerifyDomain{Domain: d, Workspace: ws, AtMs: time.Now().UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}

	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Edge-Host", r.Host)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(edge.Close)
	_, edgePort, _ := net.SplitHostPort(strings.TrimPrefix(edge.URL, "http://"))
	_, httpPort, _ := net.SplitHostPort(testenv.FreeAddr(t))
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_TLS":                     "on_demand",
		"SHORTIFY_ON_DEMAND_ISSUER":        "internal",
		"SHORTIFY_DOMAIN_CHECK_URL":        controlPlane.URL + "/api/v1/domains/allowed",
		"SHORTIFY_HTTP_PORT":               httpPort,
		"SHORTIFY_EDGE_UPSTREAMS":          strings.TrimPrefix(edge.URL, "http://"),
		"SHORTIFY_EDGE_OPS_PORT":           edgePort,
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
	})

	client := pinnedClient(t, fd)
	get := func(domain string) (*http.Response, error) {
		resp, err := client.Get("https://" + domain + "/abc123")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	wantServed := func(domain string) {
		t.Helper()
		resp, err := get(domain)
		if err != nil {
			t.Fatalf("HTTPS to %s: %v", domain, err)
		}
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Edge-Host") != domain {
			t.Fatalf("HTTPS to %s: %d from host %q, want the edge's 204", domain, resp.StatusCode, resp.Header.Get("X-Edge-Host"))
		}
		if err := resp.TLS.PeerCertificates[0].VerifyHostname(domain); err != nil {
			t.Fatalf("certificate for %s: %v", domain, err)
		}
	}
	wantRefused := func(domain string) {
		t.Helper()
		wantNoCertificate(t, client, domain)
	}

	wantServed(verified)
	wantRefused(unknown)
	wantRefused(pending)

	for _, d := range []string{verified, second} {
		if _, err := node.DeleteDomain(t.Context(), fsm.DeleteDomain{Domain: d, Workspace: ws}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(controlPlane.URL + "/api/v1/domains/allowed?domain=" + verified)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("allowed after delete: %d, want 404", resp.StatusCode)
	}
	wantRefused(second) // verified before, but never given a certificate
	// Caddy keeps the certificate it obtained and serves it from memory
	// without asking again: deleting a domain stops new certificates,
	// not this one.
	wantServed(verified)
}

// pinnedClient is an HTTPS client that trusts the front door's internal
// CA only and dials the front door whatever the URL's host (curl
// --resolve), each request on a new connection (a new handshake). It
// waits for Caddy to have made its CA.
func pinnedClient(t *testing.T, fd *caddyProcess) *http.Client {
	t.Helper()
	rootFile := filepath.Join(fd.DataDir, "pki", "authorities", "local", "root.crt")
	testenv.WaitFor(t, "the internal CA's root", 10*time.Second, func() bool {
		_, err := os.Stat(rootFile)
		return err == nil
	})
	pem, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", rootFile)
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, fd.Public)
			},
			DisableKeepAlives: true, // every request a new handshake
		},
		// A redirect is what is tested, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// wantNoCertificate fails unless an HTTPS request for domain fails in
// the handshake for want of any certificate (not one the client refused).
func wantNoCertificate(t *testing.T, client *http.Client, domain string) {
	t.Helper()
	resp, err := client.Get("https://" + domain + "/abc123")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("HTTPS to %s answered %d; want no certificate", domain, resp.StatusCode)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		t.Fatalf("HTTPS to %s got a certificate the client refused (%v); want none at all", domain, err)
	}
}
