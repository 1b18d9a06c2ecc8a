package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getWithKey calls the API at path with key as a bearer token.
func getWithKey(t *testing.T, s *system, path, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminConfigHidesInitialKey: started from the repository's Caddyfile
// with SHORTIFY_INITIAL_API_KEY set, the admin endpoint's /config/ holds
// the placeholder, never the key (a Caddyfile {$VAR} would have put the
// key itself into the adapted config); the key works, as a bearer token.
func TestAdminConfigHidesInitialKey(t *testing.T) {
	s := start(t)
	resp, err := http.Get("http://" + s.admin + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/config/: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), s.key) {
		t.Fatalf("the admin endpoint's /config/ shows the initial API key")
	}
	if !strings.Contains(string(body), `{env.SHORTIFY_INITIAL_API_KEY}`) {
		t.Errorf("/config/ has no initial_api_key placeholder: %s", body)
	}
	if code := getWithKey(t, s, "/api/v1/admin/keys", s.key); code != http.StatusOK {
		t.Fatalf("the configured key as a bearer token: %d", code)
	}
}

// TestGeneratedFirstKeyInAFile: without an initial key, and with standard
// error a pipe (as in a container), the node writes the key it makes to
// data/initial-admin-key (mode 0600) and logs that file's path; its
// output never shows the key.
func TestGeneratedFirstKeyInAFile(t *testing.T) {
	s := start(t, "SHORTIFY_INITIAL_API_KEY=")
	path := filepath.Join(s.dir, "data", "initial-admin-key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(b))
	if code := getWithKey(t, s, "/api/v1/admin/keys", key); code != http.StatusOK {
		t.Fatalf("the key from %s as a bearer token: %d", path, code)
	}
	s.stop()
	logs := s.logs.String()
	if strings.Contains(logs, key) {
		t.Fatalf("the node's output shows the generated key")
	}
	if !strings.Contains(logs, "initial-admin-key") {
		t.Errorf("the log does not name the key file:\n%s", logs)
	}
}
