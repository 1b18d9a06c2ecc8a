package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/base62"
	"github.com/shortify/shortify/internal/dualsql"
	"github.com/shortify/shortify/webhooks"
)

// Reasons an endpoint is disabled (Endpoint.DisabledReason).
const (
	ReasonFailing = "failing"
	ReasonUser    = "user"
)

// IDPrefix and IDLen make an endpoint's ID: the prefix and IDLen random
// base62 characters.
const (
	IDPrefix = "wh_"
	IDLen    = 22
)

// NewID draws a new endpoint ID.
func NewID() string { return IDPrefix + base62.Random(IDLen) }

const endpointCols = `id, workspace, url, events, secret, description, disabled,
	disabled_reason, disabled_at, failing_since, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanEndpoint(r rowScanner) (webhooks.Endpoint, error) {
	var e webhooks.Endpoint
	var events string
	err := r.Scan(&e.ID, &e.Workspace, &e.URL, &events, &e.Secret, &e.Description, &e.Disabled,
		&e.DisabledReason, dualsql.Time{T: &e.DisabledAt}, dualsql.Time{T: &e.FailingSince},
		dualsql.Time{T: &e.CreatedAt}, dualsql.Time{T: &e.UpdatedAt})
	e.Events = splitEvents(events)
	return e, err
}

// joinEvents and splitEvents store the events as one comma-separated
// column: they are a handful of fixed names, read and written whole.
func joinEvents(evs []webhooks.Event) string {
	ss := make([]string, len(evs))
	for i, ev := range evs {
		ss[i] = string(ev)
	}
	return strings.Join(ss, ",")
}

func splitEvents(s string) []webhooks.Event {
	if s == "" {
		return nil
	}
	var evs []webhooks.Event
	for x := range strings.SplitSeq(s, ",") {
		evs = append(evs, webhooks.Event(x))
	}
	return evs
}

// CreateEndpoint stores e in its workspace, unless the workspace has
// MaxEndpointsPerWorkspace endpoints (ErrTooMany). An empty ID gets a new
// one (NewID), zero times the store's clock. The caller validates the URL
// and events and makes the secret.
func (s *Store) CreateEndpoint(ctx context.Context, e webhooks.Endpoint) (webhooks.Endpoint, error) {
	if e.Workspace <= 0 || e.URL == "" || len(e.Events) == 0 || e.Secret == "" {
		return webhooks.Endpoint{}, errors.New("webhooks store: an endpoint needs a workspace, a URL, events and a secret")
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	now := s.clock()
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.CreatedAt, e.UpdatedAt = norm(e.CreatedAt), norm(e.UpdatedAt)
	e.DisabledAt, e.FailingSince = norm(e.DisabledAt), norm(e.FailingSince)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if !s.sqlite {
			// Two creates at once must not both see 19 endpoints: one
			// waits for the other's commit (SQLite's IMMEDIATE
			// transactions do that already).
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('shortify.webhooks', $1::bigint))", e.Workspace); err != nil {
				return fmt.Errorf("webhooks store: lock: %w", err)
			}
		}
		var n int
		if err := s.queryRow(ctx, tx, "SELECT count(*) FROM webhook_endpoints WHERE workspace = $1", e.Workspace).Scan(&n); err != nil {
			return fmt.Errorf("webhooks store: count endpoints: %w", err)
		}
		if n >= webhooks.MaxEndpointsPerWorkspace {
			return webhooks.ErrTooMany
		}
		_, err := s.exec(ctx, tx, `INSERT INTO webhook_endpoints (`+endpointCols+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			e.ID, e.Workspace, e.URL, joinEvents(e.Events), e.Secret, e.Description, e.Disabled,
			e.DisabledReason, dualsql.NullTime(e.DisabledAt), dualsql.NullTime(e.FailingSince), e.CreatedAt, e.UpdatedAt)
		if err != nil {
			return fmt.Errorf("webhooks store: insert endpoint: %w", err)
		}
		return nil
	})
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	return e, nil
}

// Endpoint returns the workspace's endpoint id.
func (s *Store) Endpoint(ctx context.Context, workspace int64, id string) (webhooks.Endpoint, error) {
	return s.endpoint(ctx, s.db, workspace, id)
}

func (s *Store) endpoint(ctx context.Context, q querier, workspace int64, id string) (webhooks.Endpoint, error) {
	e, err := scanEndpoint(s.queryRow(ctx, q,
		"SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = $1 AND workspace = $2", id, workspace))
	if err != nil {
		return webhooks.Endpoint{}, notFound(err, "read endpoint")
	}
	return e, nil
}

// Endpoints lists the workspace's endpoints, oldest first.
func (s *Store) Endpoints(ctx context.Context, workspace int64) ([]webhooks.Endpoint, error) {
	return s.endpoints(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE workspace = $1 ORDER BY created_at, id", workspace)
}

// Subscribers returns the enabled endpoints of the workspace that
// subscribe to ev, oldest first.
func (s *Store) Subscribers(ctx context.Context, workspace int64, ev webhooks.Event) ([]webhooks.Endpoint, error) {
	all, err := s.endpoints(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE workspace = $1 AND NOT disabled ORDER BY created_at, id", workspace)
	if err != nil {
		return nil, err
	}
	var out []webhooks.Endpoint
	for _, e := range all {
		if e.Subscribes(ev) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Store) endpoints(ctx context.Context, stmt string, args ...any) ([]webhooks.Endpoint, error) {
	rows, err := s.query(ctx, s.db, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("webhooks store: list endpoints: %w", err)
	}
	defer rows.Close()
	var out []webhooks.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("webhooks store: list endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhooks store: list endpoints: %w", err)
	}
	return out, nil
}

// UpdateEndpoint applies p to the workspace's endpoint id. Disabling
// (reason "user") fails its pending deliveries; enabling clears the
// disabled reason and FailingSince.
func (s *Store) UpdateEndpoint(ctx context.Context, workspace int64, id string, p webhooks.EndpointPatch) (webhooks.Endpoint, error) {
	var out webhooks.Endpoint
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		lock := ""
		if !s.sqlite {
			lock = " FOR UPDATE"
		}
		e, err := scanEndpoint(s.queryRow(ctx, tx,
			"SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = $1 AND workspace = $2"+lock, id, workspace))
		if err != nil {
			return notFound(err, "read endpoint")
		}
		now := s.clock()
		if p.URL != nil {
			e.URL = *p.URL
		}
		if p.Events != nil {
			e.Events = p.Events
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.Secret != nil {
			e.Secret = *p.Secret
		}
		if p.Disabled != nil {
			switch {
			case *p.Disabled && !e.Disabled:
				e.Disabled, e.DisabledReason, e.DisabledAt = true, ReasonUser, now
				if err := s.failPending(ctx, tx, e.ID, now); err != nil {
					return err
				}
			case !*p.Disabled:
				e.Disabled, e.DisabledReason, e.DisabledAt, e.FailingSince = false, "", time.Time{}, time.Time{}
			}
		}
		e.UpdatedAt = now
		_, err = s.exec(ctx, tx, `UPDATE webhook_endpoints SET url = $1, events = $2, secret = $3, description = $4,
	disabled = $5, disabled_reason = $6, disabled_at = $7, failing_since = $8, updated_at = $9
WHERE id = $10`,
			e.URL, joinEvents(e.Events), e.Secret, e.Description, e.Disabled, e.DisabledReason,
			dualsql.NullTime(e.DisabledAt), dualsql.NullTime(e.FailingSince), e.UpdatedAt, e.ID)
		if err != nil {
			return fmt.Errorf("webhooks store: update endpoint: %w", err)
		}
		out = e
		return nil
	})
	return out, err
}

// DeleteEndpoint removes the workspace's endpoint id and its deliveries.
func (s *Store) DeleteEndpoint(ctx context.Context, workspace int64, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, "DELETE FROM webhook_endpoints WHERE id = $1 AND workspace = $2", id, workspace)
		if err != nil {
			return fmt.Errorf("webhooks store: delete endpoint: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, webhooks.ErrNotFound)
		}
		// PostgreSQL's foreign key cascades; SQLite runs without the
		// foreign_keys pragma, so both delete them here.
		if _, err := s.exec(ctx, tx, "DELETE FROM webhook_deliveries WHERE endpoint = $1", id); err != nil {
			return fmt.Errorf("webhooks store: delete deliveries: %w", err)
		}
		return nil
	})
}

// cmpErr is err when not nil, else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return fmt.Errorf("webhooks store: %w", err)
	}
	return fallback
}

// disable disables the endpoint for reason at now and fails its pending
// deliveries.
func (s *Store) disable(ctx context.Context, tx *sql.Tx, id, reason string, now time.Time) error {
	_, err := s.exec(ctx, tx, `UPDATE webhook_endpoints SET disabled = $1, disabled_reason = $2, disabled_at = $3, updated_at = $3
WHERE id = $4`, true, reason, now, id)
	if err != nil {
		return fmt.Errorf("webhooks store: disable endpoint: %w", err)
	}
	return s.failPending(ctx, tx, id, now)
}

// failPending fails the pending deliveries of a disabled endpoint (a
// replay makes them pending again once it is enabled).
func (s *Store) failPending(ctx context.Context, tx *sql.Tx, endpoint string, now time.Time) error {
	_, err := s.exec(ctx, tx, `UPDATE webhook_deliveries SET state = 'failed', next_attempt = $1,
	last_error = CASE WHEN last_error = '' THEN 'endpoint disabled' ELSE last_error END
WHERE endpoint = $2 AND state = 'pending'`, now, endpoint)
	if err != nil {
		return fmt.Errorf("webhooks store: fail pending deliveries: %w", err)
	}
	return nil
}
