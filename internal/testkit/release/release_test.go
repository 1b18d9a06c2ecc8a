package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildRefuses(t *testing.T) {
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	missing := strings.Repeat("ab", 20)
	for _, tc := range []struct {
		name, commit, want string
	}{
		{"short hash", "b889d23", "not a full commit hash"},
		{"not hex", strings.Repeat("z", 40), "not a full commit hash"},
		{"upper case", strings.Repeat("AB", 20), "not a full commit hash"},
		{"not in history", missing, "git fetch origin " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(t.Context(), repo, t.TempDir(), tc.commit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build(%q) = %v, want an error with %q", tc.commit, err, tc.want)
			}
		})
	}
}

// A release in the cache is used as it is: no git, no build.
func TestBuildReusesCache(t *testing.T) {
	cache := t.TempDir()
	commit := strings.Repeat("0123456789", 4)
	dir := filepath.Join(cache, commit)
	if err := os.MkdirAll(filepath.Join(dir, sourceName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, binaryName), []byte("cached"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Build(t.Context(), "/nonexistent", cache, commit)
	if err != nil {
		t.Fatal(err)
	}
	if r.Binary != filepath.Join(dir, binaryName) || r.Caddyfiles() != filepath.Join(dir, sourceName, "deploy", "caddyfiles") {
		t.Fatalf("got %+v", r)
	}
}
