package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/backupfile"
)

// Backups.
//
// Backup is a consistent copy of the FSM taken on the leader: a Raft
// barrier first, so that every entry committed before the call is
// applied, then the state copied under the FSM's lock, in the format of
// the FSM's snapshots, wrapped in a backupfile header with its checksum.
// A follower forwards the call to the leader's internal listener
// (GET BackupPath), as it forwards writes.

// BackupPath is GET: a backup of the FSM (backupfile format), taken by the
// leader.
const BackupPath = "/api/v1/cluster/backup"

// Backup returns a backup of the cluster's FSM (the backupfile format):
// keys (hashes), the code key, the sequence, the worker leases, the
// workspaces, the custom domains, the blocklist and the partition policy
// and catalogue. It is taken on the leader; with forward a follower gets
// it from there, without it a follower returns ErrNotLeader. The file
// holds the code key: serve it to administrators only.
func (n *Node) Backup(ctx context.Context, forward bool) ([]byte, error) {
	var out []byte
	err := n.leaderDo(ctx, "back up the FSM", forward,
		func(ctx context.Context) error {
			var err error
			out, err = n.backupLocal(ctx)
			return err
		},
		func(ctx context.Context, leader fsm.NodeInfo) error {
			var err error
			out, err = n.fetchBackup(ctx, leader.ID, leader.APIAddr)
			return err
		})
	return out, err
}

// backupLocal takes the backup on this node, which leads.
func (n *Node) backupLocal(ctx context.Context) ([]byte, error) {
	if err := n.wait(ctx, n.raft.Barrier(timeoutFrom(ctx, barrierTimeout))); err != nil {
		return nil, fmt.Errorf("apply the Raft log: %w", err)
	}
	if err := n.fsm.Err(); err != nil {
		return nil, fmt.Errorf("the FSM is halted: %w", err)
	}
	// Every entry up to index is applied: the barrier came after it.
	index := n.raft.AppliedIndex()
	st := n.fsm.State()
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode the FSM state: %w", err)
	}
	file, h, err := backupfile.Encode(backupfile.Header{
		TakenAt:         n.cfg.Clock().UTC(),
		Index:           index,
		Term:            n.raft.CurrentTerm(),
		NodeID:          n.cfg.NodeID,
		SnapshotVersion: st.Version,
	}, payload)
	if err != nil {
		return nil, err
	}
	n.log.Info("took a backup of the FSM", "index", h.Index, "bytes", h.Size, "sha256", h.SHA256,
		"next_sequence", st.NextSequence)
	return file, nil
}

// fetchBackup gets the backup from the leader's internal listener.
func (n *Node) fetchBackup(ctx context.Context, id, apiAddr string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiAddr+BackupPath, nil)
	if err != nil {
		return nil, fmt.Errorf("request to node %s: %w", id, err)
	}
	req.Header.Set("Accept", backupfile.MediaType+", application/problem+json")
	req.Header.Set(ForwardedHeader, n.cfg.NodeID)
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrLeaderUnreachable, apiAddr+BackupPath, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, backupfile.MaxSize+1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: read the backup from node %s: %w", ErrLeaderUnreachable, id, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		d := problemDetail(resp.Header.Get("Content-Type"), out)
		return nil, fmt.Errorf("%w: node %s answered %d: %s", ErrLeaderUnreachable, id, resp.StatusCode, d.Detail)
	default:
		d := problemDetail(resp.Header.Get("Content-Type"), out)
		return nil, &RemoteError{Node: id, Status: resp.StatusCode, Detail: d.Detail, Field: d.Field}
	}
	// Check it here, so that a damaged transfer is retried by the caller
	// rather than written to a file.
	if _, _, err := backupfile.Read(bytes.NewReader(out)); err != nil {
		return nil, fmt.Errorf("the backup node %s sent: %w", id, err)
	}
	return out, nil
}
