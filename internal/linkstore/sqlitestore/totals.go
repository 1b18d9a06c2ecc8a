package sqlitestore

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlSetClicks writes one link's click totals, found through the primary
// key's code, unless they are already those.
const sqlSetClicks = `UPDATE links SET clicks = ?3, clicks_humans = ?4
WHERE code = ?1 AND id = ?2 AND (clicks <> ?3 OR clicks_humans <> ?4)`

// SetClicks writes links' click totals in one transaction on the write
// connection (see linkstore.Store).
func (s *Store) SetClicks(ctx context.Context, totals []linkstore.ClickTotal) (int64, error) {
	if err := linkstore.CheckClickTotals(totals); err != nil {
		return 0, fmt.Errorf("sqlitestore: set clicks: %w", err)
	}
	if len(totals) == 0 {
		return 0, nil
	}
	n, err := s.setClicks(ctx, totals)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: set clicks of %d links: %w", len(totals), err)
	}
	return n, nil
}

func (s *Store) setClicks(ctx context.Context, totals []linkstore.ClickTotal) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // after Commit, a no-op
	stmt, err := tx.PrepareContext(ctx, sqlSetClicks)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	var changed int64
	for _, t := range totals {
		res, err := stmt.ExecContext(ctx, t.Code, t.LinkID, t.Clicks, t.Humans)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		changed += n
	}
	return changed, tx.Commit()
}
