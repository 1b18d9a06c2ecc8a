package pgstore

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlSetClicks writes click totals given as arrays, matching each row by
// code (so that run-time partition pruning reads one partition per
// total) and ID. Rows whose totals are already those are left alone: no
// new row version, no index entries, and the count is of real changes.
const sqlSetClicks = `UPDATE links AS l SET clicks = t.c, clicks_humans = t.h
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS t (code, id, c, h)
WHERE l.code = t.code AND l.id = t.id AND (l.clicks, l.clicks_humans) IS DISTINCT FROM (t.c, t.h)`

// SetClicks writes links' click totals in one statement (see
// linkstore.Store), its rows in code order so that two writers lock them
// in the same order.
func (s *Store) SetClicks(ctx context.Context, totals []linkstore.ClickTotal) (int64, error) {
	if err := linkstore.CheckClickTotals(totals); err != nil {
		return 0, fmt.Errorf("pgstore: set clicks: %w", err)
	}
	if len(totals) == 0 {
		return 0, nil
	}
	totals = append([]linkstore.ClickTotal(nil), totals...)
	linkstore.SortClickTotals(totals)
	codes, ids := make([]string, len(totals)), make([]int64, len(totals))
	clicks, humans := make([]int64, len(totals)), make([]int64, len(totals))
	for i, t := range totals {
		codes[i], ids[i], clicks[i], humans[i] = t.Code, t.LinkID, t.Clicks, t.Humans
	}
	tag, err := s.primary.Exec(ctx, sqlSetClicks, codes, ids, clicks, humans)
	if err != nil {
		return 0, fmt.Errorf("pgstore: set clicks of %d links: %w", len(totals), err)
	}
	return tag.RowsAffected(), nil
}
