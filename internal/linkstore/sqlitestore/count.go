package sqlitestore

import (
	"context"
	"fmt"
)

// sqlCountLive counts a workspace's live links on links_workspace_id_idx
// (migration 0006, live links only).
const sqlCountLive = `SELECT count(*) FROM links WHERE workspace_id = ? AND retired_at IS NULL`

// sqlCountLiveUpTo counts at most the second parameter of them: the
// subquery's LIMIT bounds the scan by the limit, whatever the workspace
// holds.
const sqlCountLiveUpTo = `SELECT count(*) FROM (SELECT 1 FROM links WHERE workspace_id = ? AND retired_at IS NULL LIMIT ?)`

// CountLive returns the number of live links of the workspace, from a
// read connection.
func (s *Store) CountLive(ctx context.Context, workspaceID int64) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, sqlCountLive, workspaceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count live links of workspace %d: %w", workspaceID, err)
	}
	return n, nil
}

// CountLiveUpTo returns min(limit, live links of the workspace), from a
// read connection; the create path's check of the "links held" limit.
func (s *Store) CountLiveUpTo(ctx context.Context, workspaceID, limit int64) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, sqlCountLiveUpTo, workspaceID, limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count live links of workspace %d up to %d: %w", workspaceID, limit, err)
	}
	return n, nil
}
