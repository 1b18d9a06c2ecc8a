package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlRetireExpired retires (reason expired, at ?1) up to ?2 live links that
// expired at or before ?1 (Unix microseconds), found through
// links_expires_at_idx (migrations 0003 and 0004, which holds live links
// only). The row stays, so that the code is never issued again and the
// edge keeps answering 410 for it. The write connection runs one statement
// at a time, so nothing changes a row between the subquery and the update;
// the outer tests only mirror pgstore's. As there, the subquery yields
// codes, so a code's expired live link on another domain may be retired
// with it (and the batch may hold more than ?2 links).
const sqlRetireExpired = `UPDATE links SET retired_at = ?1, retired_reason = 'expired'
WHERE code IN (SELECT code FROM links WHERE expires_at <= ?1 AND retired_at IS NULL LIMIT ?2)
	AND expires_at <= ?1 AND retired_at IS NULL
RETURNING ` + listColumns

// RetireExpired retires up to limit live links whose expiry is at or
// before now, in one statement on the write connection, and returns them.
func (s *Store) RetireExpired(ctx context.Context, now time.Time, limit int) ([]linkstore.Link, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sqlitestore: retire expired: limit %d is not positive", limit)
	}
	rows, err := s.w.QueryContext(ctx, sqlRetireExpired, now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: retire expired: %w", err)
	}
	links, err := scanRows(rows, min(limit, 512))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: retire expired: %w", err)
	}
	return links, nil
}
