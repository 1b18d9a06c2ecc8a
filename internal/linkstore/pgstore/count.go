package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// sqlCountLive counts a workspace's live links: an index-only scan of the
// workspace's range of links_workspace_id_idx (migration 0006, live links
// only), on each partition. It runs unnamed (pgx.QueryExecModeExec), as
// List's queries do, so that it is planned for the workspace's size.
const sqlCountLive = `SELECT count(*) FROM links WHERE workspace_id = $1 AND retired_at IS NULL`

// CountLive returns the number of live links of the workspace, from the
// primary. It reads one index entry per live link of the workspace (see
// docs/decisions/0004-workspace-links.md for what that costs).
func (s *Store) CountLive(ctx context.Context, workspaceID int64) (int64, error) {
	var n int64
	if err := s.primary.QueryRow(ctx, sqlCountLive, pgx.QueryExecModeExec, workspaceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count live links of workspace %d: %w", workspaceID, err)
	}
	return n, nil
}
