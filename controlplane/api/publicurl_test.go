package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
)

// TestHostHeaderIgnored: short URLs (and so QR codes) are the public URL's
// whatever Host a client sends; before, with public_url unset, they
// followed the Host header, so a client could have the API hand out links
// to a host of its choosing.
func TestHostHeaderIgnored(t *testing.T) {
	if _, err := api.New(api.Config{}, api.Deps{Store: openSQLite(t), Issuer: newIssuer(t, 0)}); err == nil || !strings.Contains(err.Error(), "public URL is required") {
		t.Fatalf("api.New without a public URL: %v, want a refusal", err)
	}
	e := newEnv(t, openSQLite(t), api.Config{PublicURL: "https://sho.rt"})
	send := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "http://evil.example"+path, strings.NewReader(body))
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "evil.example")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "evil") {
			t.Fatalf("%s %s with Host: evil.example answered %s", method, path, w.Body)
		}
		return w
	}
	link := decode[api.Link](t, send("POST", "/api/v1/links", `{"url":"https://example.com/host"}`))
	if link.ShortURL != "https://sho.rt/"+link.Code {
		t.Fatalf("short_url %q, want the public URL's", link.ShortURL)
	}
	send("POST", "/api/v1/links/bulk", `{"links":[{"url":"https://example.com/host-bulk"}]}`)
	send("GET", "/api/v1/links/"+link.Code, "")
	send("GET", "/api/v1/links", "")
	send("PATCH", "/api/v1/links/"+link.Code, `{"redirect_status":301}`)
	w := send("GET", "/api/v1/links/"+link.Code+"/qr?format=png", "")
	if _, text, _ := scanPNG(t, w); text != link.ShortURL {
		t.Fatalf("the QR code holds %q, want %q", text, link.ShortURL)
	}
	// The public URL's host stays the shortener's own: a link to it
	// would loop, and is refused.
	if w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://sho.rt/x"}`); w.Code != http.StatusBadRequest {
		t.Errorf("a link to the public URL's host: %d, want 400", w.Code)
	}
}
