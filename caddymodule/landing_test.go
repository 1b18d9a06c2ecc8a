package caddymodule

import (
	"strings"
	"testing"
)

// TestLandingPage: GET and HEAD / answer a small HTML page with a strict
// CSP that allows no script, link to the dashboard, and never reach the
// store or spend a miss.
func TestLandingPage(t *testing.T) {
	t.Parallel()
	open, count := counting()
	h := provision(t, &Handler{Database: sqliteDSN(t), MissLimit: &RateLimit{Requests: 1, Window: 3600e9}, openStore: open})
	for i := 0; i < 3; i++ { // more than the miss budget: / is no miss
		w, err := serve(h, "GET", "/?q=<script>alert(1)</script>", nil)
		if err != nil || w.Code != 200 {
			t.Fatalf("GET /: %d %v", w.Code, err)
		}
		body := w.Body.String()
		hdr := w.Header()
		if hdr.Get("Content-Type") != "text/html; charset=utf-8" || hdr.Get("X-Content-Type-Options") != "nosniff" ||
			hdr.Get("Content-Length") != landingLen[0] {
			t.Errorf("headers %v", hdr)
		}
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q allows more than the inline style's hash", csp)
		}
		if !strings.Contains(csp, "'sha256-"+styleHash(landingStyle)+"'") || !strings.Contains(body, "<style>"+landingStyle+"</style>") {
			t.Errorf("the style in the page is not the one the CSP allows")
		}
		for _, want := range []string{"<title>Shortify</title>", "link shortener", `<a href="/dashboard/">dashboard</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(strings.ToLower(body), "<script") || strings.Contains(body, "alert") {
			t.Errorf("page has a script or reflects the request:\n%s", body)
		}
	}
	w, err := serve(h, "HEAD", "/", nil)
	if err != nil || w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != landingLen[0] ||
		w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("HEAD /: %d %v, body %d bytes, headers %v", w.Code, err, w.Body.Len(), w.Header())
	}
	if w, _ := serve(h, "POST", "/", nil); w.Code != 299 {
		t.Errorf("POST /: %d; want the next handler", w.Code)
	}
	if n := lookups(count); n != 0 || h.res.store.ready.Load() != nil {
		t.Errorf("/ reached the store (%d lookups)", n)
	}
	// The miss budget is untouched: the first unknown code is a 404.
	if w, _ := serve(h, "GET", "/"+newCode(t, "miss"), nil); w.Code != 404 {
		t.Errorf("first miss after the landing page: %d; want 404", w.Code)
	}
}

// TestRootRedirect: with root_redirect, GET and HEAD / answer 302 to it,
// also with not_found next; without it, not_found next passes / on.
func TestRootRedirect(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"404", "next"} {
		h := provision(t, &Handler{Database: sqliteDSN(t), NotFound: mode, RootRedirect: "https://example.com/about?a=1&b=2", keySalt: t.Name() + mode})
		for _, m := range []string{"GET", "HEAD"} {
			w, err := serve(h, m, "/", nil)
			if err != nil || w.Code != 302 || w.Header().Get("Location") != "https://example.com/about?a=1&b=2" ||
				w.Header().Get("Cache-Control") != "no-store" || w.Body.Len() != 0 {
				t.Errorf("%s %s /: %d %v %v", mode, m, w.Code, err, w.Header())
			}
		}
	}
	h := provision(t, &Handler{Database: sqliteDSN(t), NotFound: "next"})
	if w, _ := serve(h, "GET", "/", nil); w.Code != 299 {
		t.Errorf("not_found next without root_redirect: / answered %d; want the next handler", w.Code)
	}
}

func TestRootRedirectPlaceholder(t *testing.T) {
	t.Setenv("SHORTIFY_TEST_ROOT", "https://example.org/")
	h := provision(t, &Handler{Database: sqliteDSN(t), RootRedirect: "{env.SHORTIFY_TEST_ROOT}"})
	if w, _ := serve(h, "GET", "/", nil); w.Code != 302 || w.Header().Get("Location") != "https://example.org/" {
		t.Errorf("GET /: %d %v", w.Code, w.Header())
	}
}

func TestRootRedirectValidate(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"https://example.com", "http://example.com/x", "/about", "/welcome?x=1"} {
		if err := checkRootRedirect(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"/", "/?x=1", "about", "javascript:alert(1)", "ftp://example.com/", "https://", "https://exa mple.com/", "//"} {
		h := &Handler{Database: "sqlite:///tmp/x.db", RootRedirect: v}
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "root_redirect") {
			t.Errorf("%q: Validate %v; want a root_redirect error", v, err)
		}
	}
}
