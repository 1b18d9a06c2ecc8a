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

// sqlCountLiveUpTo counts at most $2 of them: the LIMIT in the subquery
// stops the scan there, so the cost follows the limit, not the workspace
// (docs/decisions/0004-workspace-links.md: about 1.4 ms at 10,000).
const sqlCountLiveUpTo = `SELECT count(*) FROM (SELECT 1 FROM links WHERE workspace_id = $1 AND retired_at IS NULL LIMIT $2) x`

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

// CountLiveUpTo returns min(limit, live links of the workspace), from the
// primary; the create path's check of the "links held" limit.
func (s *Store) CountLiveUpTo(ctx context.Context, workspaceID, limit int64) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	if err := s.primary.QueryRow(ctx, sqlCountLiveUpTo, pgx.QueryExecModeExec, workspaceID, limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count live links of workspace %d up to %d: %w", workspaceID, limit, err)
	}
	return n, nil
}
