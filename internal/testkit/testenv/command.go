package testenv

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Command returns the path of the command name, which Debian's package
// pkg provides: from PATH, or installed by scripts/ensure-debian-package.sh
// (which `make test` runs first) when it is missing. A test that cannot
// get it fails: it is never skipped.
func Command(tb testing.TB, name, pkg string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	script := filepath.Join(RepoRoot(), "scripts", "ensure-debian-package.sh")
	if out, err := exec.Command(script, pkg, name).CombinedOutput(); err != nil {
		tb.Fatalf("%s %s %s: %v\n%s", script, pkg, name, err, out)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not on PATH after installing Debian's %s: %v", name, pkg, err)
	}
	return p
}

// RepoRoot is the repository's root, three levels above this file's
// directory (internal/testkit/testenv).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
