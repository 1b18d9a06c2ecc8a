package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/internal/testkit/apitest"
)

// TestBackup writes a backup from a real one-node cluster's API, checks
// the file's mode and verifies it offline; a damaged file fails verify
// with the reason, and a terminal without --out is a usage error.
func TestBackup(t *testing.T) {
	srv := apitest.ServeCluster(t)
	s := newSession(t, srv.URL, srv.Admin)

	path := filepath.Join(t.TempDir(), "raft.backup")
	r := s.run("backup", "--out", path)
	if r.code != cli.ExitOK || !strings.Contains(r.errOut, "wrote a backup of Raft index") || !strings.Contains(r.errOut, "keep it secret") {
		t.Fatalf("backup: exit %d\n%s", r.code, r.errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v, %v (want mode 0600)", fi, err)
	}
	out := s.ok("backup", "verify", path)
	if !strings.Contains(out, "shortify-backup 1") || !strings.Contains(out, "solo") {
		t.Errorf("verify:\n%s", out)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.backup")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s.fails(cli.ExitFailure, "SHA-256", "backup", "verify", bad)
	s.fails(cli.ExitUsage, "needs FILE", "backup", "verify")

	s.interactive = true
	s.fails(cli.ExitUsage, "--out", "backup")
}
