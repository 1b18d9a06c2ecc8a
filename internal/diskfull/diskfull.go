// Package diskfull recognises a write that failed because storage ran
// out of space, whichever layer reports it: the operating system
// (ENOSPC, EDQUOT, from the Raft log's bolt file or any other file),
// SQLite (SQLITE_FULL) or PostgreSQL (SQLSTATE 53100 disk_full). The API
// answers such a failure with 507 and says so, instead of a generic 503
// that sends an operator looking at the network.
package diskfull

import (
	"errors"
	"syscall"
)

// Detail is the client's explanation of a write refused for space.
const Detail = "the node's storage is full (no space left on device); nothing was written; retry once space is freed"

// sqliteFull is SQLite's primary result code SQLITE_FULL; extended codes
// keep it in their low byte.
const sqliteFull = 13

// pgDiskFull is PostgreSQL's SQLSTATE disk_full.
const pgDiskFull = "53100"

// Is reports whether err, or an error it wraps, says that storage is
// full.
func Is(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	// modernc.org/sqlite's *Error.
	var coder interface{ Code() int }
	if errors.As(err, &coder) && coder.Code()&0xff == sqliteFull {
		return true
	}
	// pgx's *pgconn.PgError.
	var state interface{ SQLState() string }
	if errors.As(err, &state) && state.SQLState() == pgDiskFull {
		return true
	}
	return false
}
