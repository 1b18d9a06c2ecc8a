// Package testbin builds the shortify binary (./cmd/shortify) for tests
// that run it as a process of its own: the fault tests kill, fill the
// disk under and restart real processes, which an in-process server
// cannot show. One build per test binary; the Go build cache makes the
// next test binary's build a link step.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once    sync.Once
	path    string
	errOnce error
)

// Shortify returns the path of a shortify binary built from this
// checkout, building it on the first call; it fails the test when the
// build fails. The binary lives in a temporary directory that outlives
// the test (other tests of the binary reuse it) and is removed by the OS.
func Shortify(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "shortify-testbin-")
		if err != nil {
			errOnce = err
			return
		}
		// Every user may run it (PostgreSQL's tests run as postgres).
		if err := os.Chmod(dir, 0o755); err != nil {
			errOnce = err
			return
		}
		path = filepath.Join(dir, "shortify")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/shortify")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			errOnce = fmt.Errorf("go build ./cmd/shortify: %w\n%s", err, out)
		}
	})
	if errOnce != nil {
		tb.Fatalf("testbin: %v", errOnce)
	}
	return path
}

// RepoRoot is the repository's root directory (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Caddyfile is the path of a role Caddyfile of deploy/caddyfiles
// ("stats", "controlplane", ...), or of the root Caddyfile for "".
func Caddyfile(role string) string {
	if role == "" {
		return filepath.Join(RepoRoot(), "Caddyfile")
	}
	return filepath.Join(RepoRoot(), "deploy", "caddyfiles", role+".Caddyfile")
}
