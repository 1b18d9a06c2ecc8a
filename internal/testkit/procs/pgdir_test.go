package procs

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestPrimaryBehindPrivateParent reproduces `make stack` after `make run`
// (which leaves ./data at mode 0750) and from a checkout the postgres user
// cannot enter (a home of mode 0700, mktemp -d): run as root, initdb used
// to fail with "fork/exec …/initdb: permission denied". The server now
// keeps its directory where its user can reach it, linked from the
// configured one, and starts. Run as another user, the server runs as that
// user, who can enter its own directories: it stays where configured.
func TestPrimaryBehindPrivateParent(t *testing.T) {
	cred, err := PostgresCredential()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bin, err := PGBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	checkout := t.TempDir()
	if err := os.Chmod(checkout, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(checkout, "data")
	if err := os.Mkdir(data, 0o750); err != nil { // as make run leaves it
		t.Fatal(err)
	}
	if cred != nil {
		if blocked, err := unreachable(data, cred); err != nil || blocked == "" {
			t.Fatalf("the postgres user should not get through %s (blocked %q, %v)", data, blocked, err)
		}
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "stack", "postgres", "primary")
	pg, err := InitPrimary(ctx, PGConfig{Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(port), BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
		if err := RemoveServerDirs(filepath.Join(data, "stack")); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
			t.Errorf("RemoveServerDirs left %s (%v)", pg.Dir, err)
		}
	})
	if err := pg.Query(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Errorf("the log is not reachable through the configured directory: %v", err)
	}
	if cred == nil {
		if pg.Dir != dir {
			t.Errorf("run as its own user, the server moved to %s instead of %s", pg.Dir, dir)
		}
		return
	}
	if target, err := os.Readlink(dir); err != nil || target != pg.Dir {
		t.Errorf("%s should link to the server's directory %s: %q %v", dir, pg.Dir, target, err)
	}
	if blocked, err := unreachable(pg.Dir, cred); err != nil || blocked != "" {
		t.Errorf("the postgres user cannot reach %s (blocked at %q, %v)", pg.Dir, blocked, err)
	}
}

// TestUnreachable: search permission for another user comes from the
// "other" bits, or the group's or owner's when they are that user's. The
// directories belong to whoever runs the test; "another user" is a
// credential that is not theirs, and "its own" is theirs, so no chown (and
// no root) is needed.
func TestUnreachable(t *testing.T) {
	self := &syscall.Credential{Uid: uint32(os.Geteuid()), Gid: uint32(os.Getegid())}
	other := &syscall.Credential{Uid: self.Uid + 10007, Gid: self.Gid + 10007}
	base := openTempDir(t)
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owned bool // the user asking owns it
		want  bool // reachable
	}{
		{"open", 0o755, false, true},
		{"group only, root's group", 0o750, false, false},
		{"private", 0o700, false, false},
		{"private, its own", 0o700, true, true},
	} {
		d := filepath.Join(base, tc.name)
		if err := os.Mkdir(d, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, tc.mode); err != nil {
			t.Fatal(err)
		}
		cred := other
		if tc.owned {
			cred = self
		}
		blocked, err := unreachable(d, cred)
		if err != nil {
			t.Fatal(err)
		}
		if got := blocked == ""; got != tc.want {
			t.Errorf("%s: reachable %v, want %v (blocked at %q)", tc.name, got, tc.want, blocked)
		}
	}
}

// openTempDir is a temporary directory (removed at the test's end) that
// every user may enter. Not t.TempDir: its parents are private to root,
// and the postgres user must reach what is below.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shortify-procs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
