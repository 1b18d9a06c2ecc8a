package cluster

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
)

// failingLogs fails its writes with err while err is set.
type failingLogs struct {
	raft.LogStore
	err error
}

func (f *failingLogs) StoreLogs(ls []*raft.Log) error {
	if f.err != nil {
		return f.err
	}
	return f.LogStore.StoreLogs(ls)
}

func (f *failingLogs) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

// TestStorageFull: a Raft log write that fails for space is noted (and
// passed on to raft unchanged) until a write succeeds; other failures are
// not noted.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	logs := &failingLogs{LogStore: raft.NewInmemStore()}
	n := &Node{logSpace: &spaceWatch{LogStore: logs}}
	if err := n.StorageFull(); err != nil {
		t.Fatalf("StorageFull before any write: %v", err)
	}
	full := &fs.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC}
	steps := []struct {
		fail error
		want error // StorageFull after the write
	}{
		{nil, nil},
		{full, full},
		{errors.New("disk I/O error"), full}, // not for space: the note stays
		{full, full},
		{nil, nil}, // space is back
	}
	for i, s := range steps {
		logs.err = s.fail
		err := n.logSpace.StoreLog(&raft.Log{Index: uint64(i + 1)})
		if !errors.Is(err, s.fail) || (s.fail == nil) != (err == nil) {
			t.Fatalf("step %d: StoreLog = %v, want %v", i, err, s.fail)
		}
		if got := n.StorageFull(); !errors.Is(got, s.want) || (s.want == nil) != (got == nil) {
			t.Errorf("step %d: StorageFull = %v, want %v", i, got, s.want)
		}
	}
	var none *Node
	if none.StorageFull() != nil {
		t.Error("a nil node reports full storage")
	}
}
