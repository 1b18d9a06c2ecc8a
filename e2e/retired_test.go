package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExpiredAliasNeverChangesHands is the report, replayed on
// the embedded default with a cleanup every second: an alias expires, the
// leader's cleanup runs, and then neither an anonymous nor a keyed create
// can take the alias (409), the old short URL keeps answering 410, and the
// link's statistics are still there.
func TestExpiredAliasNeverChangesHands(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "\tshortify {\n"
	if !strings.Contains(string(src), anchor) {
		t.Fatalf("the Caddyfile has no %q block to add cleanup_interval to", strings.TrimSpace(anchor))
	}
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	patched := strings.Replace(string(src), anchor, anchor+"\t\tcleanup_interval 1s\n", 1)
	if err := os.WriteFile(caddyfile, []byte(patched), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startConfig(t, caddyfile)

	alias := fmt.Sprintf("promo-%d", time.Now().UnixNano())
	expiry := time.Now().Add(3 * time.Second).UTC()
	resp, body := s.request("POST", "/api/v1/links", fmt.Sprintf(`{"url":"https://example.com/promo","alias":%q,"expires_at":%q}`,
		alias, expiry.Format(time.RFC3339Nano)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.request("GET", "/"+alias, ""); resp.StatusCode != http.StatusFound {
		t.Fatalf("follow before expiry: %d", resp.StatusCode)
	}
	s.waitFor("the click in the statistics", 30*time.Second, func() bool { return clicksOf(t, s, alias) == 1 })

	// Every redirect is a click: wait on the clock, not by following it.
	s.waitFor("the link's expiry", 10*time.Second, func() bool { return time.Now().After(expiry) })
	if resp, _ := s.request("GET", "/"+alias, ""); resp.StatusCode != http.StatusGone {
		t.Fatalf("follow after expiry: %d, want 410", resp.StatusCode)
	}
	// The owner's view loses the link once the cleanup has retired it.
	s.waitFor("the cleanup to retire the link", 30*time.Second, func() bool {
		resp, _ := s.request("GET", "/api/v1/links/"+alias, "")
		return resp.StatusCode == http.StatusNotFound
	})

	takeover := fmt.Sprintf(`{"url":"https://phish.example/","alias":%q}`, alias)
	anon, err := noFollow.Post(s.base+"/api/v1/links", "application/json", strings.NewReader(takeover))
	if err != nil {
		t.Fatal(err)
	}
	anon.Body.Close()
	if anon.StatusCode != http.StatusConflict {
		t.Errorf("anonymous create of the retired alias: %d, want 409", anon.StatusCode)
	}
	if resp, body := s.request("POST", "/api/v1/links", takeover); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(string(body), "never reissued") {
		t.Errorf("keyed create of the retired alias: %d %s, want 409", resp.StatusCode, body)
	}
	// The edge's L1 entries last cache_ttl (1 s): past it, the answer comes
	// from the store, where the retired row still says 410.
	start := time.Now()
	s.waitFor("2 s of answers past the L1's cache_ttl", 10*time.Second, func() bool {
		if resp, _ := s.request("GET", "/"+alias, ""); resp.StatusCode != http.StatusGone || resp.Header.Get("Location") != "" {
			t.Fatalf("the old short URL after the cleanup: %d %q, want 410", resp.StatusCode, resp.Header.Get("Location"))
		}
		return time.Since(start) > 2*time.Second
	})
	if n := clicksOf(t, s, alias); n != 1 {
		t.Errorf("the link's clicks after the cleanup: %d, want 1", n)
	}
}

// clicksOf reads a link's click total from the stats API (-1 when the API
// has no answer yet).
func clicksOf(t *testing.T, s *system, code string) int64 {
	t.Helper()
	resp, body := s.request("GET", "/api/v1/stats/links/"+code, "")
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	var st struct {
		Totals struct {
			Clicks int64 `json:"clicks"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("stats of %s: %v: %s", code, err, body)
	}
	return st.Totals.Clicks
}
