package procs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// claimTTL is how long a claimed port stays away from other test
// processes: longer than any test holds a server on a port it was given.
const claimTTL = 15 * time.Minute

// claimDir is shared by every test process of the machine.
var claimDir = filepath.Join(os.TempDir(), "shortify-test-ports")

// Claim reserves port for this process against every other process that
// picks ports through this package, for claimTTL. A free port is not
// enough: Caddy listens with SO_REUSEPORT, so two test processes that
// pick the same free port in the same moment both bind it and the kernel
// shares connections between them (seen: a test's first request answered
// by another process's server with EOF). Claim reports false when another
// process claimed the port within claimTTL.
func Claim(port int) bool {
	if err := os.MkdirAll(claimDir, 0o777); err != nil {
		return true // no shared directory: fall back to "free now"
	}
	path := filepath.Join(claimDir, strconv.Itoa(port))
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err == nil {
			f.Close()
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return true
		}
		st, err := os.Stat(path)
		if err != nil || time.Since(st.ModTime()) < claimTTL {
			return false
		}
		os.Remove(path) // stale: a process long gone held it
	}
	return false
}
