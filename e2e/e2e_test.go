// Package e2e drives the whole system the way a user does: it builds the
// shortify binary, starts it with the repository's Caddyfile as `make run`
// does, and talks HTTP to the front door.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// binary is the shortify binary, built once per test run.
func binary(t *testing.T) string { return testenv.Shortify(t) }

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// system is one running shortify process.
type system struct {
	t       *testing.T
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	admin   string
	dir     string
	env     []string
	key     string // the initial admin API key
	logs    *bytes.Buffer
	exited  chan struct{}
	waitErr error
}

// start runs `shortify run --config Caddyfile` in a fresh working
// directory (so ./data is the test's own) with extra environment.
func start(t *testing.T, extraEnv ...string) *system {
	t.Helper()
	return startConfig(t, filepath.Join(repoRoot(t), "Caddyfile"), extraEnv...)
}

// startConfig is start with another Caddyfile.
func startConfig(t *testing.T, caddyfile string, extraEnv ...string) *system {
	t.Helper()
	return startIn(t, t.TempDir(), caddyfile, extraEnv...)
}

// startIn is startConfig in the working directory dir, which other
// systems may share.
func startIn(t *testing.T, dir, caddyfile string, extraEnv ...string) *system {
	t.Helper()
	s := &system{t: t, dir: dir, logs: new(bytes.Buffer), exited: make(chan struct{})}
	listen := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	s.base = "http://" + listen
	s.admin = testenv.FreeAddr(t)
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	s.key = k.Secret
	broker := testenv.FreeAddr(t)
	s.env = append(os.Environ(),
		"SHORTIFY_INITIAL_API_KEY="+s.key,
		"SHORTIFY_BIND=127.0.0.1",
		"SHORTIFY_PORT="+port,
		// Short URLs name the address the test reaches the server at.
		"SHORTIFY_PUBLIC_URL="+s.base,
		// The landing pages the tests link to are on this machine.
		"SHORTIFY_ALLOW_PRIVATE_TARGETS=on",
		"SHORTIFY_ADMIN="+s.admin,
		"SHORTIFY_RAFT_BIND="+testenv.FreeAddr(t),
		"SHORTIFY_CACHE_TTL=1s",
		// The embedded broker on a port of this test's own.
		"SHORTIFY_KAFKA_LISTEN="+broker,
		"SHORTIFY_KAFKA_BROKERS="+broker,
	)
	s.env = append(s.env, extraEnv...)
	s.cmd = exec.Command(binary(t), "run", "--config", caddyfile, "--adapter", "caddyfile")
	s.cmd.Dir = s.dir
	s.cmd.Env = s.env
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("shortify logs:\n%s", s.logs.String())
		}
	})
	s.waitFor("the control plane to be ready", 60*time.Second, func() bool {
		resp, err := http.Get(s.base + "/api/v1/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

func (s *system) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("shortify did not stop within 30s of SIGINT")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func (s *system) waitFor(what string, within time.Duration, cond func() bool) time.Duration {
	s.t.Helper()
	begin := time.Now()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for ; time.Since(begin) < within; <-tick.C {
		select {
		case <-s.exited:
			s.t.Fatalf("shortify exited while waiting for %s: %v\n%s", what, s.waitErr, s.logs.String())
		default:
		}
		if cond() {
			return time.Since(begin)
		}
	}
	s.t.Fatalf("timed out after %v waiting for %s", within, what)
	return 0
}

var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (s *system) request(method, path, body string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("X-Api-Key", s.key)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type link struct {
	Code     string `json:"code"`
	ShortURL string `json:"short_url"`
	URL      string `json:"url"`
}

func (s *system) create(target string) link {
	s.t.Helper()
	resp, body := s.request("POST", "/api/v1/links", `{"url":"`+target+`"}`)
	if resp.StatusCode != http.StatusCreated {
		s.t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var l link
	if err := json.Unmarshal(body, &l); err != nil {
		s.t.Fatal(err)
	}
	return l
}

// TestUserJourney is the README's quick start: create a link through the
// front door, follow it, delete it, and see it stop redirecting.
func TestUserJourney(t *testing.T) {
	setups := map[string]func(t *testing.T) []string{
		"embedded default": func(t *testing.T) []string { return nil },
		"postgres and redis": func(t *testing.T) []string {
			return []string{"SHORTIFY_DATABASE_URL=" + testenv.Database(t), "SHORTIFY_REDIS=" + testenv.RedisAddr(t)}
		},
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			s := start(t, setup(t)...)
			target := "https://example.com/some/long/path?from=e2e"
			l := s.create(target)
			if len(l.Code) != 6 || l.ShortURL != s.base+"/"+l.Code || l.URL != target {
				t.Fatalf("created %+v", l)
			}

			resp, _ := s.request("GET", "/"+l.Code, "")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target {
				t.Fatalf("GET /%s = %d Location %q, want 302 to %s", l.Code, resp.StatusCode, resp.Header.Get("Location"), target)
			}
			resp, body := s.request("HEAD", "/"+l.Code, "")
			if resp.StatusCode != http.StatusFound || len(body) != 0 {
				t.Fatalf("HEAD = %d with %d body bytes", resp.StatusCode, len(body))
			}
			if resp, _ := s.request("GET", "/zzzzzz", ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("unknown code: %d", resp.StatusCode)
			}
			if resp, _ := s.request("GET", "/api/v1/links/"+l.Code, ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("GET link: %d", resp.StatusCode)
			}

			if resp, body := s.request("DELETE", "/api/v1/links/"+l.Code, ""); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete: %d %s", resp.StatusCode, body)
			}
			took := s.waitFor("the deleted link to stop redirecting", 10*time.Second, func() bool {
				resp, _ := s.request("GET", "/"+l.Code, "")
				return resp.StatusCode == http.StatusNotFound
			})
			t.Logf("the deleted link stopped redirecting after %v (cache_ttl 1s)", took)
		})
	}
}

// TestReloadKeepsTheNode: `shortify reload` swaps the config while the
// Raft node, its log and the pools stay open, and creates keep working.
func TestReloadKeepsTheNode(t *testing.T) {
	s := start(t)
	before := s.create("https://example.com/before-reload")
	cmd := exec.Command(binary(t), "reload", "--config", filepath.Join(repoRoot(t), "Caddyfile"), "--adapter", "caddyfile", "--address", s.admin, "--force")
	cmd.Dir = s.dir
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	after := s.create("https://example.com/after-reload")
	if after.Code == before.Code {
		t.Fatal("a code was issued twice across the reload")
	}
	for _, l := range []link{before, after} {
		if resp, _ := s.request("GET", "/"+l.Code, ""); resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /%s after reload: %d", l.Code, resp.StatusCode)
		}
	}
	if strings.Contains(s.logs.String(), "timeout") && strings.Contains(s.logs.String(), "bolt") {
		t.Fatalf("the reload reopened the Raft log:\n%s", s.logs.String())
	}
}

func TestListModules(t *testing.T) {
	out, err := exec.Command(binary(t), "list-modules").CombinedOutput()
	if err != nil {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	for _, m := range []string{"http.handlers.shortify_edge", "http.handlers.shortify", "http.handlers.shortify_api",
		"http.handlers.shortify_stats", "shortify", "shortify_ingest", "shortify_kafka"} {
		found := false
		for _, line := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(line) == m {
				found = true
			}
		}
		if !found {
			t.Errorf("list-modules does not list %s", m)
		}
	}
}

// TestAPIKeys: the configured initial key is the cluster's admin key; a
// creator key made with it works; calls without a key are refused except
// the anonymous create of the embedded default.
func TestAPIKeys(t *testing.T) {
	s := start(t)
	resp, body := s.request("POST", "/api/v1/admin/keys", `{"name":"e2e","role":"viewer"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key: %d %s", resp.StatusCode, body)
	}
	var nk struct{ Key string }
	if err := json.Unmarshal(body, &nk); err != nil {
		t.Fatal(err)
	}
	l := s.create("https://example.com/keys")
	call := func(method, path, key string) int {
		req, _ := http.NewRequest(method, s.base+path, nil)
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/api/v1/links/" + l.Code, "", http.StatusUnauthorized},
		{"GET", "/api/v1/links/" + l.Code, nk.Key, http.StatusOK},
		{"DELETE", "/api/v1/links/" + l.Code, nk.Key, http.StatusForbidden},
		{"GET", "/api/v1/admin/keys", nk.Key, http.StatusForbidden},
		{"GET", "/api/v1/healthz", "", http.StatusOK},
	} {
		if got := call(c.method, c.path, c.key); got != c.want {
			t.Errorf("%s %s (with a key: %v): %d, want %d", c.method, c.path, c.key != "", got, c.want)
		}
	}
}

// TestAnonymousCreatesAreLimited: the embedded default's anonymous creates
// are limited per client (10 a minute by default), with Retry-After.
func TestAnonymousCreatesAreLimited(t *testing.T) {
	s := start(t)
	post := func() *http.Response {
		resp, err := noFollow.Post(s.base+"/api/v1/links", "application/json", strings.NewReader(`{"url":"https://example.com/anon"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 10 {
		if resp := post(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("anonymous create %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := post()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the 11th anonymous create: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A key is not limited.
	s.create("https://example.com/with-key")
}
