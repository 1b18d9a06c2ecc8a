package cluster

import (
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/internal/diskfull"
)

// spaceWatch is the Raft log store as raft sees it: the bolt store, with
// a note of the last write that failed because storage is full. When the
// leader cannot store an entry, raft answers that entry's proposal with
// the error but then steps down, and every proposal until it leads again
// fails with "no leader" or a fenced lease: the note lets those answers
// name the real cause (Node.StorageFull). A later write that succeeds
// clears it.
type spaceWatch struct {
	raft.LogStore
	full atomic.Pointer[error]
}

// StoreLog implements raft.LogStore.
func (s *spaceWatch) StoreLog(l *raft.Log) error { return s.note(s.LogStore.StoreLog(l)) }

// StoreLogs implements raft.LogStore.
func (s *spaceWatch) StoreLogs(ls []*raft.Log) error { return s.note(s.LogStore.StoreLogs(ls)) }

func (s *spaceWatch) note(err error) error {
	switch {
	case err == nil:
		s.full.Store(nil)
	case diskfull.Is(err):
		s.full.Store(&err)
	}
	return err
}

// StorageFull returns the error of the node's last Raft log write when
// it failed because storage is full and no write has succeeded since;
// nil otherwise. The API answers a write it cannot do meanwhile with 507
// naming the full disk rather than a generic 503.
func (n *Node) StorageFull() error {
	if n == nil || n.logSpace == nil {
		return nil
	}
	if err := n.logSpace.full.Load(); err != nil {
		return *err
	}
	return nil
}
