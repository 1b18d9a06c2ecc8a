package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
)

// TestServeHTTP is the table of answers, against each real store.
func TestServeHTTP(t *testing.T) {
	t.Parallel()
	for _, bc := range backends {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			dsn := bc.dsn(t)
			code := func(tag string) string { return newCode(t, tag) }
			c301, c302, c307, c308 := code("s301"), code("s302"), code("s307"), code("s308")
			cDefault, cExpired, cDisabled, cLater := code("default"), code("expired"), code("disabled"), code("later")
			now := time.Now().UTC()
			create(t, seeder(t, dsn),
				linkstore.Link{Code: c301, URL: "https://example.com/301", Status: 301},
				linkstore.Link{Code: c302, URL: "https://example.com/302", Status: 302},
				linkstore.Link{Code: c307, URL: "https://example.com/307", Status: 307},
				linkstore.Link{Code: c308, URL: "https://example.com/308?q=1", Status: 308},
				linkstore.Link{Code: cDefault, URL: "https://example.com/default"},
				linkstore.Link{Code: cExpired, URL: "https://example.com/expired", ExpiresAt: now.Add(-time.Minute)},
				linkstore.Link{Code: cDisabled, URL: "https://example.com/disabled", Disabled: true},
				linkstore.Link{Code: cLater, URL: "https://example.com/later", ExpiresAt: now.Add(time.Hour)},
			)
			open, count := counting()
			h := provision(t, &Handler{Database: dsn, PermanentMaxAge: caddy.Duration(2 * time.Hour), openStore: open})

			tests := []struct {
				name, method, path string
				status             int
				location, cc       string
				body               string
			}{
				{"301", "GET", "/" + c301, 301, "https://example.com/301", "public, max-age=7200", ""},
				{"302", "GET", "/" + c302, 302, "https://example.com/302", "no-store", ""},
				{"307", "GET", "/" + c307, 307, "https://example.com/307", "no-store", ""},
				{"308", "GET", "/" + c308, 308, "https://example.com/308?q=1", "public, max-age=7200", ""},
				{"default status", "GET", "/" + cDefault, 302, "https://example.com/default", "no-store", ""},
				{"query ignored", "GET", "/" + c302 + "?utm=x", 302, "https://example.com/302", "no-store", ""},
				{"expires later", "GET", "/" + cLater, 302, "https://example.com/later", "no-store", ""},
				{"unknown", "GET", "/" + code("unknown"), 404, "", "no-store", string(bodyNotFound)},
				{"expired", "GET", "/" + cExpired, 410, "", "no-store", string(bodyGone)},
				{"disabled", "GET", "/" + cDisabled, 410, "", "no-store", string(bodyGone)},
				{"HEAD found", "HEAD", "/" + c301, 301, "https://example.com/301", "public, max-age=7200", ""},
				{"HEAD unknown", "HEAD", "/" + code("unknown"), 404, "", "no-store", ""},
				{"HEAD disabled", "HEAD", "/" + cDisabled, 410, "", "no-store", ""},
				{"POST passes on", "POST", "/" + c301, 299, "", "", ""},
				{"DELETE passes on", "DELETE", "/" + c301, 299, "", "", ""},
			}
			for _, tt := range tests {
				w, err := serve(h, tt.method, tt.path, nil)
				if err != nil {
					t.Errorf("%s: error %v", tt.name, err)
					continue
				}
				res := w.Result()
				if res.StatusCode != tt.status {
					t.Errorf("%s: status %d, want %d", tt.name, res.StatusCode, tt.status)
				}
				if got := res.Header.Get("Location"); got != tt.location {
					t.Errorf("%s: Location %q, want %q", tt.name, got, tt.location)
				}
				if got := res.Header.Get("Cache-Control"); got != tt.cc {
					t.Errorf("%s: Cache-Control %q, want %q", tt.name, got, tt.cc)
				}
				if got := w.Body.String(); got != tt.body {
					t.Errorf("%s: body %q, want %q", tt.name, got, tt.body)
				}
				if tt.status == 404 || tt.status == 410 {
					// HEAD announces the length GET would send.
					want := map[int]string{404: lenNotFound[0], 410: lenGone[0]}[tt.status]
					if got := res.Header.Get("Content-Length"); got != want {
						t.Errorf("%s: Content-Length %q, want %q", tt.name, got, want)
					}
				}
			}
			// Every code was looked up in the store once; repeats were L1 hits.
			if got, want := lookups(count), int64(10); got != want {
				t.Errorf("store lookups: %d, want %d", got, want)
			}
		})
	}
}

// TestMalformedPathsNeverReachTheStore checks that what cannot be a code is
// answered without a cache or the store, with not_found 404 and next.
func TestMalformedPathsNeverReachTheStore(t *testing.T) {
	t.Parallel()
	paths := []string{
		"/", "/a/b", "/%00", "/" + strings.Repeat("a", 65), "/abc.def", "//abc", "/abc/",
		"/%2e%2e", "/a%20b", "/ünï", "/abc%2Fdef",
	}
	for _, mode := range []string{"404", "next"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			open, count := counting()
			h := provision(t, &Handler{Database: sqliteDSN(t), NotFound: mode, openStore: open})
			for _, p := range paths {
				next := new(nextHandler)
				w, err := serve(h, "GET", p, next)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				switch mode {
				case "404":
					if p == "/" { // the landing page (landing.go), also no lookup
						if w.Code != 200 || next.calls.Load() != 0 {
							t.Errorf("%s: status %d, next called %d times; want the landing page", p, w.Code, next.calls.Load())
						}
						continue
					}
					if w.Code != 404 || next.calls.Load() != 0 {
						t.Errorf("%s: status %d, next called %d times; want 404", p, w.Code, next.calls.Load())
					}
				case "next":
					if w.Code != 299 || next.calls.Load() != 1 {
						t.Errorf("%s: status %d, next called %d times; want the next handler", p, w.Code, next.calls.Load())
					}
				}
			}
			if n := lookups(count); n != 0 || h.l1.Len() != 0 || h.res.store.ready.Load() != nil {
				t.Errorf("malformed paths reached the store (%d lookups, store opened: %v) or L1 (%d entries)",
					n, h.res.store.ready.Load() != nil, h.l1.Len())
			}
			// The longest well-formed code is looked up.
			if w, _ := serve(h, "GET", "/"+strings.Repeat("a", 64), nil); lookups(count) != 1 {
				t.Errorf("64-character code: status %d, %d lookups; want 1", w.Code, lookups(count))
			}
		})
	}
}

func TestNotFoundNext(t *testing.T) {
	t.Parallel()
	c := newCode(t, "found")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/", Disabled: true})
	h := provision(t, &Handler{Database: dsn, NotFound: "next"})
	next := new(nextHandler)
	if w, _ := serve(h, "GET", "/"+newCode(t, "unknown"), next); w.Code != 299 || next.calls.Load() != 1 {
		t.Errorf("unknown code: status %d, next called %d times", w.Code, next.calls.Load())
	}
	// A disabled link is still ours: 410, not the next handler.
	if w, _ := serve(h, "GET", "/"+c, next); w.Code != 410 || next.calls.Load() != 1 {
		t.Errorf("disabled link: status %d, next called %d times", w.Code, next.calls.Load())
	}
}

func TestConfiguredDefaultStatus(t *testing.T) {
	t.Parallel()
	cDefault, c302 := newCode(t, "d"), newCode(t, "s302")
	dsn := seededDSN(t,
		linkstore.Link{Code: cDefault, URL: "https://example.com/d"},
		linkstore.Link{Code: c302, URL: "https://example.com/302", Status: 302})
	h := provision(t, &Handler{Database: dsn, DefaultStatus: 308})
	if w, _ := serve(h, "GET", "/"+cDefault, nil); w.Code != 308 || w.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("link without status: %d %q; want 308 with the default max-age", w.Code, w.Header().Get("Cache-Control"))
	}
	// A link's own status wins over the default.
	if w, _ := serve(h, "GET", "/"+c302, nil); w.Code != 302 {
		t.Errorf("link with status 302: %d", w.Code)
	}
}

// TestStoreFailureIs503 uses a PostgreSQL server address where nothing
// listens: the store cannot open, and the client gets 503, not a panic or
// a 404.
func TestStoreFailureIs503(t *testing.T) {
	t.Parallel()
	h := provision(t, &Handler{Database: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"})
	_, err := serve(h, "GET", "/abc", nil)
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("error %v; want a 503 HandlerError", err)
	}
	// Nothing was cached: the next request tries again (and fails again,
	// at once, from the remembered open error).
	if h.l1.Len() != 0 {
		t.Fatalf("L1 holds %d entries after a failure", h.l1.Len())
	}
	if _, err := serve(h, "GET", "/abc", nil); !errors.As(err, &he) || he.StatusCode != 503 {
		t.Fatalf("second request: %v", err)
	}
}

// TestFixedBodiesAreProblemDocuments: the edge's 404 and 410 bodies are
// RFC 9457 documents whose status matches the answer's.
func TestFixedBodiesAreProblemDocuments(t *testing.T) {
	for status, body := range map[int][]byte{404: bodyNotFound, 410: bodyGone} {
		var p problem.Details
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%d body is not JSON: %v", status, err)
		}
		if p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
			t.Errorf("%d body = %+v", status, p)
		}
	}
	if ctProblem[0] != problem.ContentType {
		t.Errorf("Content-Type %q", ctProblem[0])
	}
}
