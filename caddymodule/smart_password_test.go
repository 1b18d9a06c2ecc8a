package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
)

// TestSmartPassword runs a password-protected link through the handler:
// people get the form, the right password (HTTP Basic here; the form's
// flow is password_test.go's) redirects, 303 after a POST; a click is
// claimed only when the redirect is served; crawlers never see the
// target.
func TestSmartPassword(t *testing.T) {
	t.Parallel()
	hash, err := smartlink.HashPassword("open sesame")
	if err != nil {
		t.Fatal(err)
	}
	c := newCode(t, "pw")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/private", Smart: smartlink.Options{
		PasswordHash: hash, MaxClicks: 2, ExpiredURL: "https://example.com/gone",
	}})
	h := smartHandler(t, dsn, nil)
	basic := func(method, pw string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, "/"+c, nil)
		r.SetBasicAuth("", pw)
		if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil {
			w.Code = statusOf(err)
		}
		return w
	}

	if w := ask(h, "GET", "/"+c, "User-Agent", uaDesktop); w.Code != 200 || w.Header().Get("Location") != "" ||
		strings.Contains(w.Body.String(), "example.com/private") || !strings.Contains(w.Body.String(), "<form") {
		t.Fatalf("person without the password: %d %q, want the form", w.Code, w.Header().Get("Location"))
	}
	if w := ask(h, "GET", "/"+c, "User-Agent", uaSlack); w.Code != 200 || strings.Contains(w.Body.String(), "example.com/private") {
		t.Errorf("crawler: %d, want the neutral page", w.Code)
	}
	if w := basic("GET", "wrong"); w.Code != 401 || w.Header().Get("Location") != "" {
		t.Errorf("wrong password: %d %q", w.Code, w.Header().Get("Location"))
	}
	if h.stats.claimed.Load() != 0 {
		t.Fatalf("%d clicks claimed before any redirect", h.stats.claimed.Load())
	}
	if w := basic("GET", "open sesame"); w.Code != 302 || w.Header().Get("Location") != "https://example.com/private" ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("right password: %d %q %q", w.Code, w.Header().Get("Location"), w.Header().Get("Cache-Control"))
	}
	if w := basic("POST", "open sesame"); w.Code != 303 || w.Header().Get("Location") != "https://example.com/private" {
		t.Errorf("right password, POST: %d %q, want 303", w.Code, w.Header().Get("Location"))
	}
	if w := basic("GET", "open sesame"); w.Code != 302 || w.Header().Get("Location") != "https://example.com/gone" {
		t.Errorf("third click of two: %d %q, want expired_url", w.Code, w.Header().Get("Location"))
	}
	if h.stats.claimed.Load() != 2 || h.stats.exhausted.Load() != 1 {
		t.Errorf("claimed %d, exhausted %d; want 2, 1", h.stats.claimed.Load(), h.stats.exhausted.Load())
	}
}
