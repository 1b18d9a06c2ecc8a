package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// built is the shortify binary of this test process, built once.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// inMain is set while Main runs the package's tests: Main removes the
// binary afterwards, so Shortify needs it.
var inMain atomic.Bool

// BinaryEnv names a shortify binary already built from this tree, which
// Shortify then returns instead of building its own: `make test` builds
// one for all its packages, so that a dozen of them do not each link the
// same 120 MB binary at once (10 to 25 s apiece on a busy 2-core
// machine). Whoever sets it builds it from the tree under test.
const BinaryEnv = "SHORTIFY_TEST_BINARY"

// Shortify builds cmd/shortify, the binary people run, once per test
// process and returns its path (or returns $SHORTIFY_TEST_BINARY's, see
// BinaryEnv). The package's TestMain must be testenv.Main, which removes
// what it built after the tests.
func Shortify(tb testing.TB) string {
	tb.Helper()
	if !inMain.Load() {
		tb.Fatal("testenv.Shortify: the package's TestMain must call testenv.Main (it removes the binary after the tests)")
	}
	built.once.Do(func() {
		if given := os.Getenv(BinaryEnv); given != "" {
			built.path, built.err = givenBinary(given)
			return
		}
		built.dir, built.err = os.MkdirTemp("", "shortify-bin-")
		if built.err != nil {
			return
		}
		// Every user may run it (PostgreSQL's tests run as postgres).
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "shortify")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/shortify")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/shortify: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.path
}

// givenBinary checks the path of $SHORTIFY_TEST_BINARY: tests run the
// binary from working directories of their own, so it must be absolute.
func givenBinary(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("$%s=%s: not an absolute path", BinaryEnv, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("$%s: %w", BinaryEnv, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("$%s=%s: not an executable file", BinaryEnv, path)
	}
	return path, nil
}

// removeBinary removes what Shortify built.
func removeBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Caddyfile is the path of a role Caddyfile of deploy/caddyfiles
// ("stats", "controlplane", ...), or of the root Caddyfile for "".
func Caddyfile(role string) string {
	if role == "" {
		return filepath.Join(RepoRoot(), "Caddyfile")
	}
	return filepath.Join(RepoRoot(), "deploy", "caddyfiles", role+".Caddyfile")
}
