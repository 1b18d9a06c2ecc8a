package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// sqlClaimClick counts one click below $2 in one statement. The first
// claim of a link inserts its row with 1 (a max <= 0 never gets here);
// later ones take the row's lock and add 1 only while used < $2, so
// concurrent claims queue on the row and each sees the count its
// predecessor committed: exactly max of them return a row.
const sqlClaimClick = `INSERT INTO link_clicks AS c (link_id, used) VALUES ($1, 1)
ON CONFLICT (link_id) DO UPDATE SET used = c.used + 1 WHERE c.used < $2
RETURNING used`

const sqlCountedClicks = `SELECT used FROM link_clicks WHERE link_id = $1`

// ClaimClick counts one click of the link if fewer than max were counted.
func (s *Store) ClaimClick(ctx context.Context, linkID, max int64) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	var used int64
	err := s.primary.QueryRow(ctx, sqlClaimClick, linkID, max).Scan(&used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("pgstore: claim a click of link %d: %w", linkID, err)
	}
	return true, nil
}

// CountedClicks returns the clicks counted for the link.
func (s *Store) CountedClicks(ctx context.Context, linkID int64) (int64, error) {
	var used int64
	err := s.primary.QueryRow(ctx, sqlCountedClicks, linkID).Scan(&used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("pgstore: counted clicks of link %d: %w", linkID, err)
	}
	return used, nil
}
