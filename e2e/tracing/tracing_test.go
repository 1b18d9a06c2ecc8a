// Package tracing_test runs the shortify binary with tracing on, its
// spans exported by OTLP to a collector on loopback, and follows one
// create and one redirect through Caddy's tracing handler, the edge, the
// click's Kafka produce and the stats ingest's consume, and into the
// logs: Caddy's access log and the product's own lines carry the trace.
package tracing_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/spantest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/tracing"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	within  = 60 * time.Second
	service = "shortify-e2e"
)

// TestTracedCreateAndRedirect: the root Caddyfile (every app in one
// process) with SHORTIFY_TRACING=on, access logs and the edge's shared
// rate limit, Redis private to the test. One create, then Redis is stopped and one redirect of the new
// code is served from the store:
//
//   - the create's trace holds Caddy's server span, the API route's span
//     under it and the store write under that;
//   - the redirect's trace holds Caddy's server span, the edge's load and
//     the click's publish span; the stats ingest's receive span of that
//     click continues the trace, and the batch's stats.ingest.write span
//     (a root of its own) links to it;
//   - each request's access log line carries its traceID, and the edge's
//     WARN about its L2 read carries the redirect's trace_id; the WARN of
//     the shared rate limit's background sync carries none.
func TestTracedCreateAndRedirect(t *testing.T) {
	col := spantest.NewCollector(t)
	redis := testenv.StartRedis(t)
	s := start(t, append(col.Env(), "OTEL_SERVICE_NAME="+service, "SHORTIFY_REDIS="+redis.Addr)...)

	resp, body := s.request("POST", "/api/v1/links", `{"url":"https://example.com/traced"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ Code string }
	if err := json.Unmarshal(body, &created); err != nil || created.Code == "" {
		t.Fatalf("create answer %s: %v", body, err)
	}
	redis.Stop() // the redirect's L2 read fails, and the edge says so
	resp, body = s.request("GET", "/"+created.Code, "")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %d %s", resp.StatusCode, body)
	}

	// Traces by the access log lines.
	createTrace := s.accessTrace("POST", "/api/v1/links")
	redirectTrace := s.accessTrace("GET", "/"+created.Code)
	if createTrace == redirectTrace {
		t.Fatalf("the create and the redirect share trace %s", createTrace)
	}

	// The create.
	inTrace := func(trace, name string) func(spantest.Span) bool {
		return func(s spantest.Span) bool { return s.TraceID == trace && s.Name == name }
	}
	server := col.Wait(t, "Caddy's server span of the create", within, inTrace(createTrace, "shortify"))[0]
	route := col.Wait(t, "the create's route span", within, inTrace(createTrace, "POST /api/v1/links"))[0]
	store := col.Wait(t, "the create's store write", within, inTrace(createTrace, "linkstore.create"))[0]
	if server.ParentID != "" || route.ParentID != server.SpanID || store.ParentID != route.SpanID ||
		store.Attrs["shortify.code"] != created.Code || server.Service != service {
		t.Errorf("create's spans: server %+v, route %+v, store %+v; want a chain from Caddy's root, code %s, service %s",
			server, route, store, created.Code, service)
	}

	// The redirect.
	server = col.Wait(t, "Caddy's server span of the redirect", within, inTrace(redirectTrace, "shortify"))[0]
	load := col.Wait(t, "the edge's load", within, inTrace(redirectTrace, "shortify.edge.load"))[0]
	if load.ParentID != server.SpanID || load.Attrs["shortify.cache"] != "store" || server.Attrs["shortify.code"] != created.Code {
		t.Errorf("redirect's spans: server %+v, load %+v; want the load (from the store) under Caddy's span", server, load)
	}
	suffix := func(trace, sfx string) func(spantest.Span) bool {
		return func(s spantest.Span) bool { return s.TraceID == trace && strings.HasSuffix(s.Name, sfx) }
	}
	publish := col.Wait(t, "the click's publish span", within, suffix(redirectTrace, " publish"))[0]
	if publish.ParentID != server.SpanID {
		t.Errorf("the click's publish span %+v is not under Caddy's span %s", publish, server.SpanID)
	}
	receives := col.Wait(t, "the click's receive span", within, func(s spantest.Span) bool {
		return suffix(redirectTrace, " receive")(s) && s.ParentID == publish.SpanID
	})
	received := map[string]bool{}
	for _, r := range receives {
		received[r.SpanID] = true
	}
	write := col.Wait(t, "a stats.ingest.write linked to the click", within, func(s spantest.Span) bool {
		if s.Name != "stats.ingest.write" {
			return false
		}
		for _, l := range s.Links {
			if l.TraceID == redirectTrace && received[l.SpanID] {
				return true
			}
		}
		return false
	})[0]
	if write.ParentID != "" || write.TraceID == redirectTrace {
		t.Errorf("the batch's span %+v belongs to the click's trace; want a root linked to it", write)
	}

	// The product's own log line inside the traced redirect.
	const l2msg = "redis L2 read failed; using the store"
	warn := s.logLine(func(m map[string]any) bool { return m["msg"] == l2msg })
	if warn == nil || warn[tracing.LogKey] != redirectTrace {
		t.Errorf("the edge's WARN %q: %v; want %s=%s", l2msg, warn, tracing.LogKey, redirectTrace)
	}
	// The shared rate limit's WARN comes from its background sync of the
	// redirect's count (decision 0013): no request's trace is current.
	const rlmsg = "shared rate limit unavailable; limiting on this edge alone"
	testenv.WaitFor(t, "the edge's WARN "+rlmsg, within, func() bool {
		warn = s.logLine(func(m map[string]any) bool { return m["msg"] == rlmsg })
		return warn != nil
	})
	if warn[tracing.LogKey] != nil {
		t.Errorf("the edge's WARN %q: %v; want no %s, it is no request's", rlmsg, warn, tracing.LogKey)
	}
}

// system is one running shortify process and its log.
type system struct {
	t    *testing.T
	proc *procs.Process
	base string
	key  string
}

// start runs the root Caddyfile, with an access log on its site, in a
// fresh working directory with env added to the environment.
func start(t *testing.T, env ...string) *system {
	t.Helper()
	dir := t.TempDir()
	root, err := os.ReadFile(testenv.Caddyfile(""))
	if err != nil {
		t.Fatal(err)
	}
	// An access log on the site, and the edge's shared rate limit (in
	// Redis, as deploy/caddyfiles/edge.Caddyfile has it).
	for anchor, add := range map[string]string{
		"\timport tracing_{$SHORTIFY_TRACING:off} shortify\n": "\tlog\n",
		"\t\t\tcache_ttl {$SHORTIFY_CACHE_TTL:1m}\n":          "\t\t\trate_limit 1000/s burst 1000 shared\n",
	} {
		if !bytes.Contains(root, []byte(anchor)) {
			t.Fatalf("the root Caddyfile no longer has %q", anchor)
		}
		root = bytes.Replace(root, []byte(anchor), []byte(anchor+add), 1)
	}
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, root, 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	listen, broker := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	s := &system{t: t, base: "http://" + listen, key: k.Secret}
	cmd := exec.Command(testenv.Shortify(t), "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SHORTIFY_INITIAL_API_KEY="+s.key,
		"SHORTIFY_BIND=127.0.0.1",
		"SHORTIFY_PORT="+port,
		"SHORTIFY_PUBLIC_URL="+s.base,
		"SHORTIFY_ADMIN="+testenv.FreeAddr(t),
		"SHORTIFY_RAFT_BIND="+testenv.FreeAddr(t),
		"SHORTIFY_KAFKA_LISTEN="+broker,
		"SHORTIFY_KAFKA_BROKERS="+broker,
		"SHORTIFY_FETCH_TITLES=off",
	)
	cmd.Env = append(cmd.Env, env...)
	if s.proc, err = procs.Start("shortify", cmd, filepath.Join(dir, "shortify.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.proc.Stop(syscall.SIGINT, 30*time.Second); err != nil {
			t.Errorf("stop shortify: %v", err)
		}
		if t.Failed() {
			t.Logf("shortify's log:\n%s", s.proc.LogTail(20000))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	err = procs.Poll(ctx, "the control plane ready", 50*time.Millisecond, s.proc, func(ctx context.Context) error {
		resp, _, err := s.do(ctx, "GET", "/api/v1/readyz", "")
		if err == nil && resp.StatusCode != http.StatusOK {
			return &statusError{resp.StatusCode}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type statusError struct{ status int }

func (e *statusError) Error() string { return http.StatusText(e.status) }

var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends one request, with the admin key to the API.
func (s *system) do(ctx context.Context, method, path, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("X-Api-Key", s.key)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// request is do failing the test on a transport error.
func (s *system) request(method, path, body string) (*http.Response, []byte) {
	s.t.Helper()
	resp, b, err := s.do(s.t.Context(), method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}

// logLine is the first JSON line of the log for which match holds, nil
// when none does (yet).
func (s *system) logLine(match func(map[string]any) bool) map[string]any {
	f, err := os.Open(s.proc.Log)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && match(m) {
			return m
		}
	}
	return nil
}

// accessTrace waits for the access log line of a request and returns its
// traceID, failing the test when it has none.
func (s *system) accessTrace(method, uri string) string {
	s.t.Helper()
	var line map[string]any
	testenv.WaitFor(s.t, "the access log line of "+method+" "+uri, within, func() bool {
		line = s.logLine(func(m map[string]any) bool {
			req, _ := m["request"].(map[string]any)
			return strings.HasPrefix(asString(m["logger"]), "http.log.access") && req["method"] == method && req["uri"] == uri
		})
		return line != nil
	})
	id := asString(line["traceID"])
	if len(id) != 32 {
		s.t.Fatalf("the access log line of %s %s has no traceID: %v", method, uri, line)
	}
	return id
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
