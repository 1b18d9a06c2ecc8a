package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/stats/api"
)

// TestBadInput: every route answers bad input with a 4xx problem document
// naming the parameter at fault, and changes nothing.
func TestBadInput(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			e.bucketRow(api.Day, at(20, 0), "abc", 1, false, 3, sketch(t, 1))
			e.dimRow(api.Day, at(20, 0), "abc", 1, false, "country", "DE", 3)
			before := e.checksum()
			routes := []string{
				"/api/v1/stats/overview",
				"/api/v1/stats/top/country",
				"/api/v1/stats/links/abc",
				"/api/v1/stats/links/abc/top/country",
				"/api/v1/stats/links/abc/series.csv",
			}
			queries := []struct{ query, field string }{
				{"granularity=week", "granularity"},
				{"granularity=", ""}, // empty: the default, accepted
				{"from=yesterday", "from"},
				{"to=2026-13-01", "to"},
				{"from=2026-11-20&to=2026-11-19", "to"},
				{"granularity=hour&from=2026-11-20T12:00:00Z&to=2026-11-20T12:00:00Z", "to"},
				{"from=2026-11-21", "from"}, // after today: from alone ends today
				{"granularity=hour&from=2026-01-01", "from"},
				{"from=1969-12-31", "from"},
				{"to=9999-12-31", "to"},
				{"granularity=hour&from=2026-01-01&to=2026-11-01", "from"},
				{"from=2020-01-01&to=2026-01-01", "from"},
				{"unknown=1", "unknown"},
				{"from=2026-11-01&from=2026-11-02", "from"},
				{"from=%zz", ""},
			}
			for _, route := range routes {
				for _, q := range queries {
					path := route + "?" + q.query
					resp := e.get(path, e.viewer)
					if q.query == "granularity=" {
						if resp.StatusCode != http.StatusOK {
							t.Errorf("%s: %d, want 200", path, resp.StatusCode)
						}
						continue
					}
					d := wantProblem(t, path, resp, http.StatusBadRequest)
					if q.field != "" && d.Field != q.field {
						t.Errorf("%s: field %q, want %q (%s)", path, d.Field, q.field, d.Detail)
					}
				}
			}
			// Parameters of other routes.
			for _, c := range []struct{ path, field string }{
				{"/api/v1/stats/overview?limit=0", "limit"},
				{"/api/v1/stats/overview?limit=101", "limit"},
				{"/api/v1/stats/overview?limit=ten", "limit"},
				{"/api/v1/stats/overview?traffic=robots", "traffic"},
				{"/api/v1/stats/overview?link_id=1", "link_id"},
				{"/api/v1/stats/top/country?link_id=1", "link_id"},
				{"/api/v1/stats/links/abc?limit=5", "limit"},
				{"/api/v1/stats/links/abc?traffic=human", "traffic"},
				{"/api/v1/stats/links/abc?link_id=0", "link_id"},
				{"/api/v1/stats/links/abc?link_id=-5", "link_id"},
				{"/api/v1/stats/links/abc?link_id=%2B5", "link_id"},
				{"/api/v1/stats/links/abc?link_id=99999999999999999999", "link_id"},
				{"/api/v1/stats/links/abc?domain=a..example", "domain"},
				{"/api/v1/stats/links/abc?domain=go.example.com:8443", "domain"},
				{"/api/v1/stats/links/abc/top/os?domain=under_score.example", "domain"},
				{"/api/v1/stats/links/abc/series.csv?domain=-bad.example", "domain"},
				{"/api/v1/stats/overview?domain=go.example.com", "domain"},
				{"/api/v1/stats/workspace?granularity=day", "granularity"},
				{"/api/v1/stats/workspace?domain=go.example.com", "domain"},
				{"/api/v1/stats/links/abc/series.csv?link_id=x", "link_id"},
				{"/api/v1/stats/links/abc/top/country?limit=-1", "limit"},
				{"/api/v1/stats/links/a%20b", "code"},
				{"/api/v1/stats/links/a.b/series.csv", "code"},
				{"/api/v1/stats/links/" + strings.Repeat("a", 65) + "/top/os", "code"},
				{"/api/v1/stats/links/%3Cscript%3E/top/os", "code"},
			} {
				d := wantProblem(t, c.path, e.get(c.path, e.viewer), http.StatusBadRequest)
				if d.Field != c.field {
					t.Errorf("%s: field %q, want %q (%s)", c.path, d.Field, c.field, d.Detail)
				}
			}
			for _, path := range []string{
				"/api/v1/stats/top/city",
				"/api/v1/stats/links/abc/top/Country",
				"/api/v1/stats/links/abc/top/%3Cb%3E",
				"/api/v1/stats/nothing",
				"/api/v1/stats/links/abc/series.json",
				"/api/v1/stats/links/abc/top",
			} {
				wantProblem(t, path, e.get(path, e.viewer), http.StatusNotFound)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				resp := e.do(m, "/api/v1/stats/links/abc", e.admin)
				wantProblem(t, m, resp, http.StatusMethodNotAllowed)
				if allow := resp.Header.Get("Allow"); allow != "GET, HEAD" {
					t.Errorf("%s: Allow %q", m, allow)
				}
			}
			if after := e.checksum(); after != before {
				t.Errorf("bad requests changed the data: %s -> %s", before, after)
			}
		})
	}
}

// TestAuth: every route but the OpenAPI document needs a valid key of the
// viewer role or above.
func TestAuth(t *testing.T) {
	e := setup(t, "sqlite")
	revoked := e.keys.add(t, "viewer")
	e.keys.revoke(t, revoked)
	odd := e.keys.add(t, "guest") // a role the key ring should never hold
	e.bucketRow("day", at(20, 0), "abc", 1, false, 1, nil)
	for _, r := range e.h.Routes() {
		path := map[string]string{
			"GET /api/v1/stats/overview":                     "/api/v1/stats/overview",
			"GET /api/v1/stats/top/{dimension}":              "/api/v1/stats/top/os",
			"GET /api/v1/stats/links/{code}":                 "/api/v1/stats/links/abc",
			"GET /api/v1/stats/links/{code}/top/{dimension}": "/api/v1/stats/links/abc/top/os",
			"GET /api/v1/stats/links/{code}/series.csv":      "/api/v1/stats/links/abc/series.csv",
			"GET /api/v1/stats/workspace":                    "/api/v1/stats/workspace",
			"GET /api/v1/stats/openapi.json":                 "/api/v1/stats/openapi.json",
		}[r.Pattern]
		if path == "" {
			t.Fatalf("no test path for route %s", r.Pattern)
		}
		if r.Access == "public" {
			if resp := e.get(path, ""); resp.StatusCode != http.StatusOK {
				t.Errorf("%s without a key: %d", path, resp.StatusCode)
			}
			continue
		}
		for _, key := range []string{e.viewer, e.creator, e.admin} {
			if resp := e.get(path, key); resp.StatusCode != http.StatusOK {
				t.Errorf("%s with a key: %d", path, resp.StatusCode)
			}
		}
		for name, key := range map[string]string{"no key": "", "a malformed key": "sk_nope", "a revoked key": revoked,
			"an unknown key": "sk_AAAAAAAAAAAA_" + e.viewer[16:]} {
			resp := e.get(path, key)
			wantProblem(t, path+" with "+name, resp, http.StatusUnauthorized)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with %s: no WWW-Authenticate", path, name)
			}
		}
		wantProblem(t, path+" with an unknown role", e.get(path, odd), http.StatusForbidden)
	}
	// Without a key ring (the control plane stopping): 503, not 401.
	h, err := api.New(api.Config{}, api.Deps{Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	wantProblem(t, "no key ring", e.get("/api/v1/stats/overview", e.viewer), http.StatusServiceUnavailable)
	// A key ring but no workspace registry yet: 503 too, never the
	// instance's statistics to a workspace's key.
	h, err = api.New(api.Config{}, api.Deps{Store: e.store,
		Keys:      func(context.Context) apiauth.KeyLookup { return e.keys },
		Directory: func(context.Context) api.Directory { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	for _, path := range []string{"/api/v1/stats/overview", "/api/v1/stats/links/abc", "/api/v1/stats/workspace"} {
		resp := e.get(path, e.viewer)
		wantProblem(t, "no registry: "+path, resp, http.StatusServiceUnavailable)
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("no registry: %s: no Retry-After", path)
		}
	}
}
