package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestBlockedDomainReachesExistingLinks is the issue's "a block reaches
// existing links at click time" with the shipped Caddyfile and its
// defaults: a link that redirects keeps redirecting until an admin blocks
// its domain, then answers the interstitial page within a minute (the
// leader merges the blocklist into the shared set, the edge reloads it,
// both every 15 s by default), and the API shows it flagged for review.
// On both stores.
//
// It waits on timers rather than the CPU, so it runs beside the other
// tests, and its two stores at once.
func TestBlockedDomainReachesExistingLinks(t *testing.T) {
	t.Parallel()
	setups := map[string]func(t *testing.T) []string{
		"embedded default": func(t *testing.T) []string { return nil },
		"postgres":         func(t *testing.T) []string { return []string{"SHORTIFY_DATABASE_URL=" + testenv.Schema(t)} },
	}
	for name, setup := range setups {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t, setup(t)...)
			target := "https://www.blocked-later.example/login?x=1"
			l := s.create(target)
			if resp, _ := s.request("GET", "/"+l.Code, ""); resp.StatusCode != http.StatusFound {
				t.Fatalf("before the block: %d", resp.StatusCode)
			}
			if resp, body := s.request("PUT", "/api/v1/admin/blocklist/blocked-later.example", ""); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("block: %d %s", resp.StatusCode, body)
			}
			var resp *http.Response
			var body []byte
			took := s.waitFor("the link to answer the interstitial", time.Minute, func() bool {
				resp, body = s.request("GET", "/"+l.Code, "")
				return resp.StatusCode == http.StatusOK
			})
			t.Logf("the block reached the existing link after %v", took)
			if resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
				!strings.Contains(string(body), "<code>https://www.blocked-later.example/login?x=1</code>") {
				t.Fatalf("interstitial: %v\n%s", resp.Header, body)
			}
			s.waitFor("the link to be flagged for review", 30*time.Second, func() bool {
				_, body := s.request("GET", "/api/v1/links/"+l.Code, "")
				return strings.Contains(string(body), `"source":"admin blocklist"`)
			})
			if resp, body := s.request("POST", "/api/v1/links", `{"url":"https://blocked-later.example/"}`); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("create on the blocked domain: %d %s", resp.StatusCode, body)
			}
		})
	}
}
