package api

import (
	"fmt"
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

// StorageWatcher is what the node behind Deps.Issuer may also tell (the
// cluster node does): its last Raft log write failed because storage is
// full, and none has succeeded since (nil otherwise).
type StorageWatcher interface {
	StorageFull() error
}

// raftCause is err, or, when the node's Raft log is out of space, that
// cause with err after it: a proposal refused for "no leader" or a
// fenced lease while the leader cannot store entries is refused for
// space, and is answered so.
func (h *Handler) raftCause(err error) error {
	if diskfull.Is(err) {
		return err
	}
	sw, ok := h.deps.Issuer.(StorageWatcher)
	if !ok {
		return err
	}
	if full := sw.StorageFull(); full != nil {
		return fmt.Errorf("%w (then: %v)", full, err)
	}
	return err
}
