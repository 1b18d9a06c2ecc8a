package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirHoldsAllState: SHORTIFY_DATA_DIR moves all of an instance's
// state, the SQLite links database included. Two instances started from
// one working directory with different data dirs share no link (before,
// the Caddyfile kept the database at ./data/links.db whatever the data
// dir, and the second instance saw the first one's links), and nothing is
// written to ./data.
func TestDataDirHoldsAllState(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(repoRoot(t), "Caddyfile")
	a := startIn(t, dir, caddyfile, "SHORTIFY_DATA_DIR="+filepath.Join(dir, "a"))
	b := startIn(t, dir, caddyfile, "SHORTIFY_DATA_DIR="+filepath.Join(dir, "b"))

	body := `{"url":"https://example.com/a","alias":"only-in-a"}`
	if resp, got := a.request("POST", "/api/v1/links", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create on a: %d %s", resp.StatusCode, got)
	}
	if resp, got := b.request("GET", "/api/v1/links/only-in-a", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("b sees a's link: %d %s", resp.StatusCode, got)
	}
	if resp, _ := b.request("GET", "/only-in-a", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("b redirects a's code: %d", resp.StatusCode)
	}
	if resp, got := b.request("POST", "/api/v1/links", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the same alias on b: %d %s (want 201: b's database is its own)", resp.StatusCode, got)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(dir, name, "links.db")); err != nil {
			t.Errorf("instance %s's links database is not in its data dir: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("an instance wrote to ./data despite SHORTIFY_DATA_DIR (stat: %v)", err)
	}
}
