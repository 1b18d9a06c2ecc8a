package sqlitestore

import (
	"context"
	"fmt"
)

// sqlCountLive counts a workspace's live links on links_workspace_id_idx
// (migration 0006, live links only).
const sqlCountLive = `SELECT count(*) FROM links WHERE workspace_id = ? AND retired_at IS NULL`

// CountLive returns the number of live links of the workspace, from a
// read connection.
func (s *Store) CountLive(ctx context.Context, workspaceID int64) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, sqlCountLive, workspaceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count live links of workspace %d: %w", workspaceID, err)
	}
	return n, nil
}
