package deploy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// frontDoor is the front door's role Caddyfile.
var frontDoor = filepath.Join("caddyfiles", "frontdoor.Caddyfile")

// credentials are header values a client or a node sends that must never
// be written to a log.
var credentials = map[string]string{
	"X-Api-Key":                 "sk_live_apikey_3e1f0c9a7b5d",
	"Authorization":             "Bearer sk_live_bearer_8c2a6e4f1d9b",
	"Proxy-Authorization":       "Basic cHJveHk6c2VjcmV0LXByb3h5LXZhbHVl",
	"Cookie":                    "session=cookie_secret_5a7c9e1b3d",
	"X-Shortify-Cluster-Secret": "cluster_secret_0f2e4d6c8b",
}

// TestFrontDoorLogsNoCredentials reproduces the leak of issue 12 (4): with
// its upstreams down, the front door logged each failed request with its
// headers, X-Api-Key and the cluster secret as sent (Caddy redacts only
// Authorization and Cookie). The error log must still record the request,
// without any credential. At DEBUG (SHORTIFY_LOG_LEVEL), reverse_proxy
// also logs every round trip to a live upstream, with the request it
// sent and the headers it got back: filtered alike.
func TestFrontDoorLogsNoCredentials(t *testing.T) {
	t.Parallel()
	const setCookie = "upstream_session_7d3b1f9e5c"
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" { // the front door's health check
			return
		}
		w.Header().Set("Set-Cookie", "s="+setCookie)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(edge.Close)
	_, edgePort, _ := net.SplitHostPort(strings.TrimPrefix(edge.URL, "http://"))
	// An API request when no control-plane node is ready (its health
	// check has failed) is answered by the front door's handle_errors
	// (503 with Retry-After), and Caddy logs a handled error at DEBUG
	// only: so at INFO only the short code's error is logged, and at
	// DEBUG both are.
	for _, tc := range []struct {
		level, edge string
		want        string   // a log entry the requests must make
		paths       []string // requests that must each be logged
	}{
		{"INFO", testenv.FreeAddr(t), `"logger":"http.log.error`, []string{"/abc123"}},                                         // nothing listens there
		{"DEBUG", strings.TrimPrefix(edge.URL, "http://"), `"msg":"upstream roundtrip"`, []string{"/api/v1/links", "/abc123"}}, // answers 404
	} {
		t.Run(tc.level, func(t *testing.T) {
			t.Parallel()
			fd := runCaddy(t, frontDoor, map[string]string{
				"SHORTIFY_LOG_LEVEL":               tc.level,
				"SHORTIFY_EDGE_UPSTREAMS":          tc.edge,
				"SHORTIFY_EDGE_OPS_PORT":           edgePort,
				"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
			})
			for _, path := range tc.paths {
				req, err := http.NewRequest(http.MethodPost, "http://"+fd.Public+path, strings.NewReader(`{"url":"https://example.com/"}`))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range credentials {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				testenv.WaitFor(t, "a log entry of "+path, 10*time.Second, func() bool {
					return strings.Contains(fd.Logs(), `"uri":"`+path+`"`)
				})
			}
			logs := fd.Logs()
			if !strings.Contains(logs, tc.want) || !strings.Contains(logs, `"headers":{`) {
				t.Fatalf("no %s entry with the request's headers; the test proves nothing:\n%s", tc.want, logs)
			}
			for name, v := range credentials {
				// The distinctive part of the value, so that a partial
				// redaction ("Bearer REDACTED") neither passes for a leak
				// nor hides one.
				secret := v[strings.LastIndex(v, " ")+1:]
				if strings.Contains(logs, secret) {
					t.Errorf("the front door's log holds the %s value %q", name, secret)
				}
			}
			if strings.Contains(logs, setCookie) {
				t.Errorf("the front door's log holds the upstream's Set-Cookie value")
			}
		})
	}
}

// TestFrontDoorCutsSlowClients reproduces issue 12 (9): a client that
// trickles its headers, or its body, kept its connection for as long as
// it liked (10 bytes over 200 s). The front door's role Caddyfile bounds
// both: headers within 5 s, a body within 15 s. A slow header is
// disconnected at once; a slow body gets an error answer at 15 s, never
// reaches the upstream whole, and the bytes it goes on trickling count
// as the next request's header, so the connection ends 5 s after 4 of
// them (net/http waits for 4 bytes before it starts a header's clock).
func TestFrontDoorCutsSlowClients(t *testing.T) {
	t.Parallel()
	var bodies atomic.Int64 // bodies the upstream received whole
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if b, err := io.ReadAll(r.Body); err == nil && len(b) == 100 {
				bodies.Add(1)
			}
		}
		w.WriteHeader(http.StatusOK) // /api/v1/readyz, the health check, too
	}))
	t.Cleanup(api.Close)
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_EDGE_UPSTREAMS":          testenv.FreeAddr(t),
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": strings.TrimPrefix(api.URL, "http://"),
	})
	const readHeader, readBody = 5 * time.Second, 15 * time.Second // frontdoor.Caddyfile's
	for _, tc := range []struct {
		name, head string
		answerBy   time.Duration // 0: no answer expected
		closeBy    time.Duration
	}{
		{"header", "GET /abc123 HTTP/1.1\r\nHost: sho.rt\r\nX-Slow: ", 0, readHeader + 3*time.Second},
		{"body", "POST /api/v1/links HTTP/1.1\r\nHost: sho.rt\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
			readBody + 3*time.Second, readBody + 4*time.Second + readHeader + 3*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", fd.Public)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			// One byte a second until the server hangs up: the header
			// never ends, the 100-byte body would take 100 s.
			stop := make(chan struct{})
			trickled := make(chan struct{})
			go func() {
				defer close(trickled)
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte{'1'}); err != nil {
							return
						}
					}
				}
			}()
			defer func() { close(stop); <-trickled }()
			conn.SetReadDeadline(start.Add(tc.closeBy + 5*time.Second))
			r := bufio.NewReader(conn)
			status, _ := r.ReadString('\n')
			answered := time.Since(start)
			_, err = io.Copy(io.Discard, r)
			closed := time.Since(start)
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				t.Fatalf("the connection was still open after %v of a slow %s (answer %q)", closed.Round(time.Second), tc.name, status)
			}
			if tc.answerBy > 0 {
				if !strings.HasPrefix(status, "HTTP/1.1 5") && !strings.HasPrefix(status, "HTTP/1.1 4") {
					t.Errorf("slow %s: answer %q, want an error status", tc.name, status)
				}
				if answered > tc.answerBy || answered < readBody-time.Second {
					t.Errorf("slow %s answered after %v, want about %v", tc.name, answered.Round(100*time.Millisecond), readBody)
				}
			}
			if closed > tc.closeBy {
				t.Errorf("slow %s: the connection closed after %v, want within %v", tc.name, closed.Round(100*time.Millisecond), tc.closeBy)
			}
			t.Logf("slow %s: answer %q after %v, closed after %v", tc.name, strings.TrimSpace(status),
				answered.Round(100*time.Millisecond), closed.Round(100*time.Millisecond))
		})
	}
	t.Cleanup(func() {
		if n := bodies.Load(); n != 0 {
			t.Errorf("the upstream received %d whole slow bodies", n)
		}
	})
}

// TestFrontDoorHTTPS runs the front door as Kubernetes does (SHORTIFY_TLS
// files, the certificate of a kubernetes.io/tls Secret): HTTPS on the
// client port with Strict-Transport-Security on the answers, and the
// http:// port redirecting to https://.
func TestFrontDoorHTTPS(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t, "front door test CA")
	cert, key := ca.Issue(t, "sho.rt", "127.0.0.1")
	httpAddr := testenv.FreeAddr(t)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_TLS":                     "files",
		"SHORTIFY_TLS_CERT":                cert,
		"SHORTIFY_TLS_KEY":                 key,
		"SHORTIFY_HTTP_PORT":               httpPort,
		"SHORTIFY_EDGE_UPSTREAMS":          testenv.FreeAddr(t),
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
	})
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "sho.rt"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get("https://" + fd.Public + "/abc123")
	if err != nil {
		t.Fatalf("HTTPS to the front door: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("the answer came without TLS 1.2+: %+v", resp.TLS)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("HTTPS answer %d has Strict-Transport-Security %q", resp.StatusCode, hsts)
	}
	// Plain HTTP on the client port is refused (it speaks TLS only) ...
	if resp, err := client.Get("http://" + fd.Public + "/abc123"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP on the HTTPS port: %d", resp.StatusCode)
		}
	}
	// ... and the http:// port sends clients to https://.
	resp, err = client.Get("http://" + httpAddr + "/abc123?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != "https://127.0.0.1/abc123?x=1" {
		t.Errorf("http:// answered %d Location %q; want 308 to https://127.0.0.1/abc123?x=1", resp.StatusCode, loc)
	}
}

// TestFrontDoorSetsClientAddress: the per-client limits of the edges and
// the control plane rest on the X-Forwarded-For the front door sends
// them (issue 12, finding 8). It must name the peer that connected, not
// what a client wrote in its own X-Forwarded-For.
func TestFrontDoorSetsClientAddress(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abc123" {
			seen <- strings.Join(r.Header.Values("X-Forwarded-For"), ", ")
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(edge.Close)
	_, edgePort, _ := net.SplitHostPort(strings.TrimPrefix(edge.URL, "http://"))
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_EDGE_UPSTREAMS":          strings.TrimPrefix(edge.URL, "http://"),
		"SHORTIFY_EDGE_OPS_PORT":           edgePort, // its health checks, answered 200
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
	})
	req, err := http.NewRequest(http.MethodGet, "http://"+fd.Public+"/abc123", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case xff := <-seen:
		if xff != "127.0.0.1" {
			t.Errorf("the edge got X-Forwarded-For %q; want the client's own address, 127.0.0.1, alone", xff)
		}
	default:
		t.Fatalf("the request (answer %d) did not reach the edge", resp.StatusCode)
	}
}

// TestFrontDoorKeepsEdgeConnections: the front door keeps a connection to
// an edge for every request it had in flight at once, so that a second
// burst as large reuses them all. With Caddy's default (32 idle
// connections per upstream) it closed each one beyond 32 after one answer
// and opened it again for the next request: at 2,000 requests/s through
// make loadtest, 15,000 sockets in TIME-WAIT.
func TestFrontDoorKeepsEdgeConnections(t *testing.T) {
	t.Parallel()
	const inFlight = 100
	var newConns atomic.Int64
	var arrived sync.WaitGroup
	release := make(chan struct{})
	edge := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request of a burst waits for all of them: the front door
		// has inFlight requests to the edge at once.
		arrived.Done()
		<-release
		w.WriteHeader(http.StatusFound)
	}))
	edge.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	edge.Start()
	t.Cleanup(edge.Close)
	// The health checks go to an ops port of their own, as in production.
	ops := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ops.Close)
	_, opsPort, _ := net.SplitHostPort(strings.TrimPrefix(ops.URL, "http://"))
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_EDGE_UPSTREAMS":          strings.TrimPrefix(edge.URL, "http://"),
		"SHORTIFY_EDGE_OPS_PORT":           opsPort,
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
	})
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: inFlight},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	burst := func() {
		t.Helper()
		arrived.Add(inFlight)
		release = make(chan struct{})
		errs := make(chan error, inFlight)
		for range inFlight {
			go func() {
				resp, err := client.Get("http://" + fd.Public + "/abc123")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusFound {
						err = fmt.Errorf("answer %d, want 302", resp.StatusCode)
					}
				}
				errs <- err
			}()
		}
		arrived.Wait()
		close(release)
		for range inFlight {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	first := newConns.Load()
	burst()
	if opened := newConns.Load() - first; opened != 0 {
		t.Errorf("the second burst of %d requests opened %d new connections to the edge (the first opened %d); want every one reused", inFlight, opened, first)
	}
}
