package api

import (
	"net/http"

	"github.com/shortify/shortify/internal/diskfull"
	"github.com/shortify/shortify/internal/problem"
)

// spaceRetryAfter is the Retry-After of a write refused for space:
// freeing a disk takes an operator, not a second.
const spaceRetryAfter = "30"

// outOfSpace answers 507 Insufficient Storage, naming the cause, when err
// says that storage is full (the link database's disk, the Raft log's),
// and reports whether it did. Such a write changed nothing: a failed
// SQLite or PostgreSQL transaction rolls back, a Raft entry that could
// not be stored is not committed.
func (h *Handler) outOfSpace(w http.ResponseWriter, what string, err error) bool {
	if !diskfull.Is(err) {
		return false
	}
	h.log.Error("cannot "+what+": storage is full", "err", err)
	w.Header().Set("Retry-After", spaceRetryAfter)
	problem.Write(w, http.StatusInsufficientStorage, "could not "+what+": "+diskfull.Detail)
	return true
}
