package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// browserCase is one write as a browser (or another client) sends it.
type browserCase struct {
	name        string
	method      string
	path        string
	contentType string
	body        string
	headers     map[string]string
	want        int
}

func (c browserCase) request() *http.Request {
	method := c.method
	if method == "" {
		method = "POST"
	}
	path := c.path
	if path == "" {
		path = "/api/v1/links"
	}
	body := c.body
	if body == "" && method == "POST" {
		body = `{"url":"https://example.com/` + strings.ReplaceAll(c.name, " ", "-") + `"}`
	}
	r := httptest.NewRequest(method, "http://sho.test"+path, strings.NewReader(body))
	if c.contentType != "" {
		r.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.headers {
		r.Header.Set(k, v)
	}
	return r
}

func openSQLite(t *testing.T) linkstore.Store {
	t.Helper()
	s := teststore.SQLite(t)
	return s
}

// TestWritesNeedJSONAndSameSite: every write with a body must be
// application/json (415), and a write a browser marks as cross-site, or
// with a foreign Origin, is refused (403) unless its origin is in
// CORSOrigins.
func TestWritesNeedJSONAndSameSite(t *testing.T) {
	const app = "https://app.example"
	s := openSQLite(t)
	h, err := newAPI(t, api.Config{CORSOrigins: []string{app + "/"}}, api.Deps{Store: s, Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	site := func(v string) map[string]string { return map[string]string{"Sec-Fetch-Site": v} }
	origin := func(v string) map[string]string { return map[string]string{"Origin": v} }
	for _, c := range []browserCase{
		{name: "json", contentType: "application/json", want: 201},
		{name: "json with charset", contentType: "application/json; charset=utf-8", want: 201},
		{name: "no content type", want: 415},
		{name: "text/plain", contentType: "text/plain", want: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", want: 415},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", want: 415},
		{name: "json-like", contentType: "application/jsonp", want: 415},
		{name: "PATCH as text", method: "PATCH", path: "/api/v1/links/nosuch", contentType: "text/plain", body: `{"disabled":true}`, want: 415},
		{name: "PUT as text", method: "PUT", path: "/api/v1/admin/partitions/policy", contentType: "text/plain", body: `{}`, want: 415},
		{name: "body-less DELETE", method: "DELETE", path: "/api/v1/links/nosuch", want: 404},
		{name: "body-less PUT", method: "PUT", path: "/api/v1/admin/blocklist/spam.example", want: 503},
		{name: "same-origin", contentType: "application/json", headers: site("same-origin"), want: 201},
		{name: "typed by the user", contentType: "application/json", headers: site("none"), want: 201},
		{name: "cross-site", contentType: "application/json", headers: site("cross-site"), want: 403},
		{name: "same-site", contentType: "application/json", headers: site("same-site"), want: 403},
		{name: "cross-site DELETE", method: "DELETE", path: "/api/v1/links/nosuch", headers: site("cross-site"), want: 403},
		{name: "foreign Origin", contentType: "application/json", headers: origin("https://evil.example"), want: 403},
		{name: "null Origin", contentType: "application/json", headers: origin("null"), want: 403},
		{name: "own Origin", contentType: "application/json", headers: origin("http://sho.test"), want: 201},
		{name: "configured Origin, cross-site", contentType: "application/json",
			headers: map[string]string{"Origin": app, "Sec-Fetch-Site": "cross-site"}, want: 201},
		{name: "configured Origin, text", contentType: "text/plain",
			headers: map[string]string{"Origin": app, "Sec-Fetch-Site": "cross-site"}, want: 415},
		{name: "cross-site read", method: "GET", path: "/api/v1/links", headers: site("cross-site"), want: 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, c.request())
			if w.Code != c.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, c.want)
			}
			if c.want == 403 || c.want == 415 {
				wantProblem(t, w, c.want, "")
			}
			acao := w.Header().Get("Access-Control-Allow-Origin")
			if want := c.headers["Origin"]; (want == app) != (acao == app) || (acao != "" && acao != app) {
				t.Errorf("Access-Control-Allow-Origin %q for Origin %q", acao, want)
			}
		})
	}
}

// TestCrossSiteAnonymousCreate: with anonymous create on, a page of another
// site that makes its visitors' browsers post a link (a no-cors fetch: no
// Content-Type or text/plain, Sec-Fetch-Site cross-site or only an Origin)
// creates nothing.
func TestCrossSiteAnonymousCreate(t *testing.T) {
	s := openSQLite(t)
	h, err := api.New(api.Config{PublicURL: testPublicURL, AnonymousCreate: true}, api.Deps{Store: s, Issuer: newIssuer(t, 0), Keys: &keyRing{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []browserCase{
		{name: "no-cors fetch, modern browser", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, want: 403},
		{name: "no-cors fetch as text", contentType: "text/plain;charset=UTF-8", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, want: 403},
		{name: "no Sec-Fetch-Site, an Origin", contentType: "text/plain", headers: map[string]string{"Origin": "https://evil.example"}, want: 403},
		{name: "form post, old browser", contentType: "application/x-www-form-urlencoded", want: 415},
		{name: "no headers at all", want: 415},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, c.request())
		if w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
	}
	links, err := s.List(context.Background(), linkstore.ListQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 0 {
		t.Fatalf("cross-site posts created %d links: %+v", len(links), links)
	}
	// The same create from the API's own page, or from curl, works.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, browserCase{name: "own page", contentType: "application/json", headers: map[string]string{"Sec-Fetch-Site": "same-origin"}}.request())
	if w.Code != http.StatusCreated {
		t.Fatalf("same-origin anonymous create: %d %s", w.Code, w.Body)
	}
}

// TestCORSPreflight: preflights are answered for configured origins only.
func TestCORSPreflight(t *testing.T) {
	s := openSQLite(t)
	preflight := func(h http.Handler, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("OPTIONS", "http://sho.test/api/v1/links", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	with, err := api.New(api.Config{PublicURL: testPublicURL, CORSOrigins: []string{"https://app.example"}}, api.Deps{Store: s, Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	w := preflight(with, "https://app.example")
	hdr := w.Header()
	if w.Code != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Content-Type") || !varies(hdr, "Origin") {
		t.Fatalf("preflight from a configured origin: %d %v", w.Code, hdr)
	}
	without, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: s, Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"another origin":   preflight(with, "https://evil.example"),
		"no CORS settings": preflight(without, "https://app.example"),
	} {
		if w.Code < 400 || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s: preflight answered %d %v", name, w.Code, w.Header())
		}
	}
	if _, err := api.New(api.Config{PublicURL: testPublicURL, CORSOrigins: []string{"https://app.example/path"}}, api.Deps{Store: s, Issuer: newIssuer(t, 0)}); err == nil {
		t.Error("a CORS origin with a path was accepted")
	}
}
