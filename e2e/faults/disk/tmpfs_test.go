//go:build faults

package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// tmpfs is a small tmpfs mounted for one test.
type tmpfs struct {
	dir    string
	filler string
}

// mountTmpfs mounts a tmpfs of size bytes at a new directory and
// unmounts it when the test ends (after the processes the test starts
// later have stopped: cleanups run last first).
func mountTmpfs(t *testing.T, size int64) *tmpfs {
	t.Helper()
	dir, err := os.MkdirTemp("", "shortify-diskfull-")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		os.Remove(dir)
		t.Fatalf("mount a tmpfs at %s (the test must run as root): %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return &tmpfs{dir: dir, filler: filepath.Join(dir, "filler")}
}

// free returns the bytes free for an unprivileged writer.
func (f *tmpfs) free(t *testing.T) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes the filler file until the file system has no space left,
// and returns its size.
func (f *tmpfs) fill(t *testing.T) int64 {
	t.Helper()
	file, err := os.OpenFile(f.filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	n, err := io.Copy(file, zeros{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fill %s: wrote %d bytes, then %v, want ENOSPC", f.filler, n, err)
	}
	return n
}

// fillMore takes whatever space the node has freed since (a deleted
// WAL, a truncated file), so that the disk stays full.
func (f *tmpfs) fillMore(t *testing.T) int64 { return f.fill(t) }

// release removes the filler: space returns.
func (f *tmpfs) release(t *testing.T) {
	t.Helper()
	if err := os.Remove(f.filler); err != nil {
		t.Fatal(err)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
