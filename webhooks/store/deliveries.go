package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shortify/shortify/internal/dualsql"
	"github.com/shortify/shortify/webhooks"
)

const deliveryCols = `id, endpoint, workspace, event, payload, created_at, state, attempts,
	next_attempt, last_status, last_error, last_attempt`

func scanDelivery(r rowScanner) (webhooks.Delivery, error) {
	var d webhooks.Delivery
	var state string
	err := r.Scan(&d.ID, &d.Endpoint, &d.Workspace, &d.Event, &d.Payload, dualsql.Time{T: &d.CreatedAt},
		&state, &d.Attempts, dualsql.Time{T: &d.NextAttempt}, &d.LastStatus, &d.LastError,
		dualsql.Time{T: &d.LastAttempt})
	d.State = webhooks.DeliveryState(state)
	return d, err
}

func collectDeliveries(rows *sql.Rows, err error) ([]webhooks.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []webhooks.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Enqueue adds pending deliveries. A delivery whose ID its endpoint has
// already is left as it is (a record consumed twice), as is one whose
// endpoint is gone or in another workspace than d.Workspace. A zero
// NextAttempt is now (due at once), a zero CreatedAt too.
func (s *Store) Enqueue(ctx context.Context, ds []webhooks.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := s.clock()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if d.ID == "" || d.Endpoint == "" || d.Event == "" {
				return errors.New("webhooks store: a delivery needs an ID, an endpoint and an event")
			}
			created, next := norm(d.CreatedAt), norm(d.NextAttempt)
			if created.IsZero() {
				created = now
			}
			if next.IsZero() {
				next = now
			}
			payload := d.Payload
			if payload == nil {
				payload = []byte{}
			}
			// The endpoint's own workspace goes in the row, and the WHERE
			// keeps a delivery from landing in another workspace's log.
			_, err := s.exec(ctx, tx, `INSERT INTO webhook_deliveries
	(id, endpoint, workspace, event, payload, created_at, state, next_attempt)
SELECT $1, e.id, e.workspace, $2, $3, $4, 'pending', $5
FROM webhook_endpoints e WHERE e.id = $6 AND e.workspace = $7
ON CONFLICT (endpoint, id) DO NOTHING`,
				d.ID, string(d.Event), payload, created, next, d.Endpoint, d.Workspace)
			if err != nil {
				return fmt.Errorf("webhooks store: enqueue %s: %w", d.ID, err)
			}
		}
		return nil
	})
}

// Claim returns up to limit pending deliveries due at now, of enabled
// endpoints, oldest due first, and moves their NextAttempt to now+lease,
// which hides them from other Claims until then. On PostgreSQL the rows
// are picked FOR UPDATE SKIP LOCKED, so two Claims at once never return
// one delivery; SQLite's single writer does the same.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]webhooks.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	now = norm(now)
	lock := ""
	if !s.sqlite {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	stmt := `UPDATE webhook_deliveries SET next_attempt = $1
WHERE seq IN (
	SELECT d.seq FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint
	WHERE d.state = 'pending' AND d.next_attempt <= $2 AND NOT e.disabled
	ORDER BY d.next_attempt, d.seq LIMIT $3` + lock + `)
RETURNING ` + deliveryCols
	var out []webhooks.Delivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = collectDeliveries(s.query(ctx, tx, stmt, now.Add(lease), now, limit))
		if err != nil {
			return fmt.Errorf("webhooks store: claim: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b webhooks.Delivery) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Record stores an attempt's outcome (see webhooks.Store). The endpoint's
// FailingSince becomes a.At on its first failure since a success, and
// clears on a success; an endpoint failing for RetryFor at a.At is
// disabled ("failing") and its pending deliveries fail. ErrNotFound: the
// delivery is gone (its endpoint was deleted).
func (s *Store) Record(ctx context.Context, d webhooks.Delivery, a webhooks.Attempt) error {
	at := norm(a.At)
	if at.IsZero() {
		at = s.clock()
	}
	state, next := webhooks.Delivered, at
	switch {
	case a.Err == "":
	case !a.Next.IsZero():
		state, next = webhooks.Pending, norm(a.Next)
	default:
		state = webhooks.Failed
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1,
	next_attempt = $2, last_status = $3, last_error = $4, last_attempt = $5
WHERE endpoint = $6 AND id = $7`, string(state), next, a.Status, a.Err, at, d.Endpoint, d.ID)
		if err != nil {
			return fmt.Errorf("webhooks store: record %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, webhooks.ErrNotFound)
		}
		if a.Err == "" {
			_, err := s.exec(ctx, tx, "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", d.Endpoint)
			if err != nil {
				return fmt.Errorf("webhooks store: record %s: %w", d.ID, err)
			}
			return nil
		}
		var since time.Time
		var disabled bool
		err = s.queryRow(ctx, tx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1)
WHERE id = $2 RETURNING failing_since, disabled`, at, d.Endpoint).Scan(dualsql.Time{T: &since}, &disabled)
		if err != nil {
			return notFound(err, "record "+d.ID)
		}
		if !disabled && at.Sub(since) >= webhooks.RetryFor {
			return s.disable(ctx, tx, d.Endpoint, ReasonFailing, at)
		}
		return nil
	})
}

// Deliveries pages the delivery log of one endpoint of the workspace,
// newest first (by when they were enqueued). q.Before is the ID of the
// last delivery of the page before; an ID the log does not have gives an
// empty page. ErrNotFound: the workspace has no such endpoint.
func (s *Store) Deliveries(ctx context.Context, workspace int64, q webhooks.DeliveryQuery) ([]webhooks.Delivery, error) {
	if _, err := s.Endpoint(ctx, workspace, q.Endpoint); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		q.Limit = DefaultLogLimit
	}
	stmt := "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE endpoint = $1 AND workspace = $2"
	args := []any{q.Endpoint, workspace}
	if q.State != "" {
		args = append(args, string(q.State))
		stmt += fmt.Sprintf(" AND state = $%d", len(args))
	}
	if q.Before != "" {
		args = append(args, q.Before)
		stmt += fmt.Sprintf(" AND seq < (SELECT seq FROM webhook_deliveries WHERE endpoint = $1 AND id = $%d)", len(args))
	}
	args = append(args, q.Limit)
	stmt += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	out, err := collectDeliveries(s.query(ctx, s.db, stmt, args...))
	if err != nil {
		return nil, fmt.Errorf("webhooks store: delivery log: %w", err)
	}
	return out, nil
}

// Replay makes the workspace endpoint's delivery pending again, due now,
// with its ID; its attempts so far stay counted.
func (s *Store) Replay(ctx context.Context, workspace int64, endpoint, delivery string) (webhooks.Delivery, error) {
	var d webhooks.Delivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDelivery(s.queryRow(ctx, tx, `UPDATE webhook_deliveries SET state = 'pending', next_attempt = $1
WHERE endpoint = $2 AND id = $3 AND workspace = $4 RETURNING `+deliveryCols, s.clock(), endpoint, delivery, workspace))
		if err != nil {
			return notFound(err, "replay")
		}
		return nil
	})
	if err != nil {
		return webhooks.Delivery{}, err
	}
	return d, nil
}

// Prune deletes the delivered and failed deliveries whose last attempt
// (or, never attempted, creation) is older than before.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, s.db, `DELETE FROM webhook_deliveries
WHERE state IN ('delivered', 'failed') AND COALESCE(last_attempt, created_at) < $1`, norm(before))
	if err != nil {
		return 0, fmt.Errorf("webhooks store: prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("webhooks store: prune: %w", err)
	}
	return n, nil
}
