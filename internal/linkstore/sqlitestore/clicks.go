package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// sqlClaimClick counts one click below ?2 in one statement, as pgstore's
// does. It runs on the write connection: SQLite runs one writer at a time
// per file, so a claim reads the count and writes it under the file's
// write lock, and claims through other Stores on the file (another
// process's) wait for that lock (busy_timeout) instead of reading a
// stale count.
const sqlClaimClick = `INSERT INTO link_clicks (link_id, used) VALUES (?1, 1)
ON CONFLICT (link_id) DO UPDATE SET used = used + 1 WHERE used < ?2
RETURNING used`

const sqlCountedClicks = `SELECT used FROM link_clicks WHERE link_id = ?`

// ClaimClick counts one click of the link if fewer than max were counted.
func (s *Store) ClaimClick(ctx context.Context, linkID, max int64) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	var used int64
	err := s.w.QueryRowContext(ctx, sqlClaimClick, linkID, max).Scan(&used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlitestore: claim a click of link %d: %w", linkID, err)
	}
	return true, nil
}

// CountedClicks returns the clicks counted for the link.
func (s *Store) CountedClicks(ctx context.Context, linkID int64) (int64, error) {
	var used int64
	err := s.r.QueryRowContext(ctx, sqlCountedClicks, linkID).Scan(&used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("sqlitestore: counted clicks of link %d: %w", linkID, err)
	}
	return used, nil
}
