package caddymodule

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestServer runs the module inside a real Caddy (in process, admin API off,
// a port of its own) and reloads its config twice: with the same shortify
// settings the warm L1 and the open store carry over; with another
// cache_ttl the L1 is rebuilt. Stopping Caddy releases everything.
//
// It stands in for caddytest, which listens on a fixed admin port (clashing
// with other packages' tests on the same machine), skips instead of failing
// when it cannot start, and waits with sleeps.
func TestServer(t *testing.T) {
	// Not parallel: t.Setenv, and caddy.Load is process-wide.
	caddyHome(t)

	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	c := newCode(t, "srv")
	create(t, seed, linkstore.Link{Code: c, URL: "https://example.com/srv", Status: 308})
	addr := testenv.FreeAddr(t)

	load := func(healthBody string, cacheTTL time.Duration) {
		t.Helper()
		cfg := map[string]any{
			"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
			"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"writer": map[string]any{"output": "discard"}}}},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"edge": map[string]any{
				"listen":          []string{addr},
				"automatic_https": map[string]any{"disable": true},
				"routes": []any{
					map[string]any{
						"match":  []any{map[string]any{"path": []string{"/healthz"}}},
						"handle": []any{map[string]any{"handler": "static_response", "status_code": 200, "body": healthBody}},
					},
					map[string]any{"handle": []any{
						map[string]any{"handler": "shortify_edge", "database": dsn, "not_found": "next", "cache_ttl": cacheTTL.String()},
						map[string]any{"handler": "static_response", "status_code": 200, "body": "fallback"},
					}},
				},
			}}}},
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := caddy.Load(b, true); err != nil {
			t.Fatalf("caddy.Load: %v", err)
		}
	}
	load("ok", time.Minute)
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("caddy.Stop: %v", err)
		}
	})

	client := redirectClient()
	get := func(method, path string) (int, http.Header, string) {
		t.Helper()
		// Right after a load the old config's listener may still be
		// closing: Caddy binds with SO_REUSEPORT, and a connection the
		// kernel queued on the old socket is reset (seen in CI, the first
		// request after a load: EOF, "connection reset by peer"). No answer
		// was sent, so the request is sent again, as a client would.
		var res *http.Response
		testenv.WaitFor(t, method+" "+path+" answered", 3*time.Second, func() bool {
			req, _ := http.NewRequest(method, "http://"+addr+path, nil)
			var err error
			if res, err = client.Do(req); err != nil {
				t.Logf("%s %s: %v; sending it again", method, path, err)
			}
			return err == nil
		})
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(body)
	}

	if st, h, _ := get("GET", "/"+c); st != 308 || h.Get("Location") != "https://example.com/srv" ||
		h.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("GET: %d %v", st, h)
	}
	if st, h, body := get("HEAD", "/"+c); st != 308 || h.Get("Location") == "" || body != "" {
		t.Fatalf("HEAD: %d %v %q", st, h, body)
	}
	if st, _, body := get("GET", "/healthz"); st != 200 || body != "ok" {
		t.Fatalf("/healthz (a well-formed code, routed before shortify): %d %q", st, body)
	}
	if st, _, body := get("GET", "/"+newCode(t, "unknown")); st != 200 || body != "fallback" {
		t.Fatalf("unknown code with not_found next: %d %q", st, body)
	}
	if st, _, body := get("POST", "/"+c); st != 200 || body != "fallback" {
		t.Fatalf("POST: %d %q", st, body)
	}

	// The link goes away in the database; the edge keeps serving it from
	// L1 until cache_ttl, also across a reload that keeps the settings.
	if _, err := seed.Delete(context.Background(), "", c); err != nil {
		t.Fatal(err)
	}
	load("ok, reloaded", time.Minute)
	if st, _, body := get("GET", "/healthz"); body != "ok, reloaded" {
		t.Fatalf("the reload did not take: %d %q", st, body)
	}
	if st, _, _ := get("GET", "/"+c); st != 308 {
		t.Fatalf("after a reload with the same settings: %d; want 308 from the warm L1", st)
	}

	// Another cache_ttl: a new L1, which asks the database.
	load("ok", 2*time.Minute)
	if st, _, body := get("GET", "/"+c); st != 200 || body != "fallback" {
		t.Fatalf("after a reload with another cache_ttl: %d %q; want the next handler", st, body)
	}

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	storeKey := "shortify/store/" + hashKey(dsn, []string(nil), "")
	if n, ok := pool.References(storeKey); ok {
		t.Errorf("the store is still in the pool after Stop (%d references)", n)
	}
}

// caddyHome keeps the data and config Caddy writes under $HOME and the
// XDG directories in the test's directory.
func caddyHome(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("HOME", tmp)
	t.Setenv("XDG_DATA_HOME", tmp)
	t.Setenv("XDG_CONFIG_HOME", tmp)
}

// redirectClient returns redirects instead of following them, and opens a
// new connection per request: a reload closes the old server's idle
// connections, and a request sent on one of them at that moment fails
// with EOF or a reset.
func redirectClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
