package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// verifiedDomains is a registry in which the listed domains are verified.
type verifiedDomains map[string]bool

func (v verifiedDomains) DomainVerified(d string) bool { return v[d] }

func (v verifiedDomains) Domain(d string) (fsm.DomainEntry, bool) {
	verified, ok := v[d]
	return fsm.DomainEntry{Domain: d, Workspace: 1, Verified: verified}, ok
}

func (v verifiedDomains) WorkspaceDomains(int64) []fsm.DomainEntry { return nil }

// TestDomainAllowed: the on-demand TLS check answers 200 only for a
// verified domain (in any spelling that normalizes to it), 404 for the
// rest alike, 400 for no or a bad name, without a key; it is limited per
// client.
func TestDomainAllowed(t *testing.T) {
	reg := verifiedDomains{"go.example.com": true, "xn--bcher-kva.example": true, "pending.example.com": false}
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: teststore.SQLite(t), Issuer: newIssuer(t, 0),
		Domains: reg, DomainCheckLimiter: &limiter{left: map[string]int{}, n: 11}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"verified", "domain=go.example.com", http.StatusOK},
		{"verified, upper case and trailing dot", "domain=GO.Example.COM.", http.StatusOK},
		{"verified IDN in Unicode", "domain=b%C3%BCcher.example", http.StatusOK},
		{"registered, not verified", "domain=pending.example.com", http.StatusNotFound},
		{"unknown", "domain=other.example.com", http.StatusNotFound},
		{"subdomain of a verified one", "domain=x.go.example.com", http.StatusNotFound},
		{"missing", "", http.StatusBadRequest},
		{"empty", "domain=", http.StatusBadRequest},
		{"IP address", "domain=127.0.0.1", http.StatusBadRequest},
		{"single label", "domain=localhost", http.StatusBadRequest},
		{"unknown parameter", "domain=go.example.com&x=1", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/domains/allowed?"+tc.query, nil))
			if w.Code != tc.want {
				t.Fatalf("GET ?%s = %d %s, want %d", tc.query, w.Code, w.Body, tc.want)
			}
			if tc.want != http.StatusOK && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("a refusal without a problem document: %q", w.Header().Get("Content-Type"))
			}
		})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/domains/allowed?domain=go.example.com", nil))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("past the budget: %d %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// No registry: nothing is allowed.
	bare, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: teststore.SQLite(t), Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	bare.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/domains/allowed?domain=go.example.com", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("without a registry: %d, want 404", w.Code)
	}
}
