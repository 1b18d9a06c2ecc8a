package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlRetireExpired retires (reason expired, at $1) up to $2 live links
// that expired at or before $1. The row stays, so that the code is never
// issued again and the edge keeps answering 410 for it.
//
// The codes come from links_expires_at_idx (migrations 0003 and 0004, which
// holds live links only), read on each
// partition until $2 are found, and go to the delete as one array: each
// partition then finds its rows by primary key (an index scan with
// code = ANY), 16 times $2 index descents whatever the table's size
// (BenchmarkRetireExpired: 45 to 70 ms for 500 links at a million, on the
// loaded 2-core development machine). The plainer "code IN (SELECT ...)",
// or a join with the subquery, is planned as a hash join whose other side
// reads every expired link, or the whole table, because the planner does
// not probe a hash-partitioned table by key from a subquery: measured
// (with DELETE, before 0004), 330 to 650 ms for the same batch, and growing
// with the table.
//
// Since migration 0006 a code may name links on several domains: the
// array holds codes, so the update may also retire the same code's link
// on another domain, which the outer tests retire only when it has
// expired and is live too (a link the cleanup would retire anyway). The
// batch may then hold more than $2 links, which the cleanup's loop takes
// as a full batch.
//
// The outer tests are checked again on the row as it is when the update
// locks it, so a link whose expiry an update moves past $1 in the meantime,
// or that another leader's batch retired, stays as it is (the array alone
// would not know).
const sqlRetireExpired = `UPDATE links SET retired_at = $1, retired_reason = 'expired'
WHERE code = ANY (ARRAY(SELECT code FROM links WHERE expires_at <= $1 AND retired_at IS NULL LIMIT $2))
	AND expires_at <= $1 AND retired_at IS NULL
RETURNING ` + listColumns

// RetireExpired retires up to limit live links whose expiry is at or
// before now, in one statement, and returns them.
//
// The statement runs unnamed (pgx.QueryExecModeExec), so PostgreSQL plans
// it with the values every time, as List's queries: a generic plan cannot
// tell that few links have expired (the usual case once the cleanup has
// caught up) and may read the whole table looking for them.
func (s *Store) RetireExpired(ctx context.Context, now time.Time, limit int) ([]linkstore.Link, error) {
	if limit < 1 {
		return nil, fmt.Errorf("pgstore: retire expired: limit %d is not positive", limit)
	}
	rows, err := s.primary.Query(ctx, sqlRetireExpired, pgx.QueryExecModeExec, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: retire expired: %w", err)
	}
	links, err := scanLinks(rows, min(limit, 512))
	if err != nil {
		return nil, fmt.Errorf("pgstore: retire expired: %w", err)
	}
	return links, nil
}
