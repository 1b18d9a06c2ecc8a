package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Command installs a missing command with the repository's script, so
// repoRoot must find the script from this package's directory.
func TestRepoRootHoldsTheInstallScript(t *testing.T) {
	script := filepath.Join(RepoRoot(), "scripts", "ensure-debian-package.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("repoRoot %s: %v", RepoRoot(), err)
	}
}
