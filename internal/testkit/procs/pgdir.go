package procs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// serverDir makes the directory a server run as cred keeps its data and
// log in, for the configured dir, and returns it. That is dir itself when
// the server runs as this process's user (cred nil) or when cred's user
// can enter every parent of dir. When it cannot (a checkout under a home
// of mode 0700, a ./data that `make run` made 0750, a private mktemp -d),
// the server's directory is a new one under the system's temporary
// directory, owned by that user, and dir becomes a symbolic link to it, so
// that the stack's logs stay where the stack says they are.
func serverDir(dir string, cred *syscall.Credential) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL directory %s: %w", dir, err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("PostgreSQL directory: %w", err)
	}
	if cred == nil {
		return abs, makeDir(abs, cred)
	}
	blocked, err := unreachable(parent, cred)
	if err != nil {
		return "", err
	}
	if blocked == "" {
		return abs, makeDir(abs, cred)
	}
	tmp, err := os.MkdirTemp("", "shortify-postgres-")
	if err != nil {
		return "", fmt.Errorf("PostgreSQL runs as uid %d, which cannot enter %s; a directory it can reach under %s failed too (set TMPDIR to one): %w",
			cred.Uid, blocked, os.TempDir(), err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("PostgreSQL directory %s: %w", tmp, err)
	}
	if b, err := unreachable(tmp, cred); err != nil || b != "" {
		return "", fmt.Errorf("PostgreSQL runs as uid %d, which can enter neither %s nor %s: make one searchable (chmod o+x) or set TMPDIR to a directory it can reach (%v)",
			cred.Uid, blocked, b, err)
	}
	real := filepath.Join(tmp, filepath.Base(abs))
	if err := makeDir(real, cred); err != nil {
		return "", err
	}
	// An empty directory left by a previous attempt gives way to the link.
	_ = os.Remove(abs)
	if err := os.Symlink(real, abs); err != nil {
		return "", fmt.Errorf("link %s to PostgreSQL's directory %s: %w", abs, real, err)
	}
	return real, nil
}

// unreachable returns the first directory of path and its parents that
// cred's user may not enter (search permission), or "" when it may enter
// them all. Supplementary groups are not consulted: a directory open only
// to one of them counts as closed, which at worst moves the data.
func unreachable(path string, cred *syscall.Credential) (string, error) {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("PostgreSQL directory: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return "", nil // no owner to compare with: let the server try
		}
		mode := fi.Mode().Perm()
		can := mode&0o001 != 0 ||
			(st.Gid == cred.Gid && mode&0o010 != 0) ||
			(st.Uid == cred.Uid && mode&0o100 != 0)
		if !can {
			return p, nil
		}
		if p == filepath.Dir(p) {
			return "", nil
		}
	}
}

// permissionHint says what to do when starting a PostgreSQL program was
// refused for want of permission.
func permissionHint(err error, cred *syscall.Credential) string {
	if !errors.Is(err, os.ErrPermission) {
		return ""
	}
	who := "this user"
	if cred != nil {
		who = fmt.Sprintf("the postgres user (uid %d)", cred.Uid)
	}
	return fmt.Sprintf(" (%s must be able to run the PostgreSQL binaries and enter the data directory's parents: check their modes, or set SHORTIFY_TEST_PG_BIN to binaries it can run)", who)
}

// RemoveServerDirs removes the PostgreSQL directories that dir's
// subdirectories link to (made by serverDir outside dir), so that
// removing dir afterwards leaves nothing behind. It walks dir's direct
// children and their children, where the stack keeps its servers.
func RemoveServerDirs(dir string) error {
	links, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		return err
	}
	for _, l := range links {
		fi, err := os.Lstat(l)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(l)
		if err != nil {
			continue
		}
		// Only what serverDir made: a shortify-postgres-* temporary directory.
		parent := filepath.Dir(target)
		if matched, _ := filepath.Match(filepath.Join(os.TempDir(), "shortify-postgres-*"), parent); !matched {
			continue
		}
		if err := os.RemoveAll(parent); err != nil {
			return fmt.Errorf("remove PostgreSQL directory %s: %w", parent, err)
		}
	}
	return nil
}
