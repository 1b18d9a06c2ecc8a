package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlDeleteExpired deletes up to ?2 links that expired at or before ?1
// (Unix microseconds), found through links_expires_at_idx (migration 0003).
// The write connection runs one statement at a time, so nothing changes a
// row between the subquery and the delete; the outer test only mirrors
// pgstore's.
const sqlDeleteExpired = `DELETE FROM links
WHERE code IN (SELECT code FROM links WHERE expires_at <= ?1 LIMIT ?2)
	AND expires_at <= ?1
RETURNING code, id, url, status, created_at, expires_at, disabled`

// DeleteExpired deletes up to limit links whose expiry is at or before
// now, in one statement on the write connection, and returns them.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]linkstore.Link, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sqlitestore: delete expired: limit %d is not positive", limit)
	}
	rows, err := s.w.QueryContext(ctx, sqlDeleteExpired, now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: delete expired: %w", err)
	}
	defer rows.Close()
	links := make([]linkstore.Link, 0, min(limit, 512))
	for rows.Next() {
		var (
			l                linkstore.Link
			created, expires int64
		)
		if err := rows.Scan(&l.Code, &l.ID, &l.URL, &l.Status, &created, &expires, &l.Disabled); err != nil {
			return nil, fmt.Errorf("sqlitestore: delete expired: %w", err)
		}
		l.CreatedAt = time.UnixMicro(created).UTC()
		l.ExpiresAt = time.UnixMicro(expires).UTC()
		links = append(links, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: delete expired: %w", err)
	}
	return links, nil
}
