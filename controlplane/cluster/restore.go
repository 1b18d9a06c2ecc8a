package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/backupfile"
)

// Restoring a backup.
//
// A new cluster starts from a backup on the node that bootstraps it: with
// Config.Restore set, that node, once it leads its one-node cluster and
// finds no code key in the FSM, restores the backup instead of proposing a
// new key. The restore is raft's own (Raft.Restore, the user-snapshot
// restore that Consul's `snapshot restore` uses): the backup becomes a
// snapshot in the node's snapshot store under the cluster's current
// configuration, at an index past the log's, and the FSM restores it, so
// nodes that join later receive it as they receive any snapshot. Before
// that, Restore.Floor moves the backup's sequence and worker timestamps
// past what the link database holds (package seqfloor), so that the
// restored cluster issues no code or ID that was issued before. Nothing is
// issued before the restore: the node takes its lease and its first block
// after it, like any start.
//
// The restore runs only while the cluster has no code key: on the first
// start from empty data directories, or again after a start that failed
// before it was done. A node that finds a key (a cluster restored or
// running already) ignores Restore.

// Restore says which backup a new cluster starts from.
type Restore struct {
	// Path is the backup file (backupfile format, `shortify backup`).
	Path string
	// Floor, when set, may change the backup's state before it is
	// restored: the control plane raises its floors to what the link
	// database holds (fsm.State.RaiseFloors). An error stops the start.
	Floor func(ctx context.Context, h backupfile.Header, st *fsm.State) error
}

// restore restores the backup on this node, which leads a cluster with no
// key, and returns the key it holds.
func (n *Node) restore(ctx context.Context) ([]byte, error) {
	r := n.cfg.Restore
	f, err := os.Open(r.Path)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	h, payload, err := backupfile.Read(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("restore from %s: %w", r.Path, err)
	}
	var st fsm.State
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("restore from %s: decode the FSM state: %w", r.Path, err)
	}
	if len(st.Key) != fsm.KeySize {
		return nil, fmt.Errorf("restore from %s: the backup holds no code key (%d bytes): it is not of an initialised cluster", r.Path, len(st.Key))
	}
	before := st.NextSequence
	if r.Floor != nil {
		if err := r.Floor(ctx, h, &st); err != nil {
			return nil, fmt.Errorf("restore from %s: %w", r.Path, err)
		}
	}
	data, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("restore: encode the FSM state: %w", err)
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: h.Index, Term: h.Term, Size: int64(len(data))}
	if err := n.raft.Restore(meta, bytes.NewReader(data), timeoutFrom(ctx, applyTimeout)); err != nil {
		return nil, fmt.Errorf("restore from %s: %w", r.Path, err)
	}
	key := n.fsm.Key()
	if !bytes.Equal(key, st.Key) {
		return nil, fmt.Errorf("restore from %s: the FSM does not hold the backup's key after the restore", r.Path)
	}
	n.log.Info("restored the cluster from a backup", "file", r.Path, "taken_at", h.TakenAt, "backup_index", h.Index,
		"backup_next_sequence", before, "next_sequence", n.fsm.NextSequence(), "keys", len(st.Keys),
		"workspaces", len(st.Workspaces), "domains", len(st.Domains))
	return key, nil
}
