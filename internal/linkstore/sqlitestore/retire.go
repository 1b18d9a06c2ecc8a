package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// Release, TakeDown and LiftTakedown: the administrator's writes, on the
// write connection.

// sqlRelease removes a retired row; sqlExists tells a live link from no
// link when it removes nothing.
const (
	sqlRelease = `DELETE FROM links WHERE code = ? AND domain = ? AND retired_at IS NOT NULL`
	sqlExists  = `SELECT EXISTS (SELECT 1 FROM links WHERE code = ? AND domain = ?)`
)

// Release removes a retired link's row, freeing its code; it returns
// linkstore.ErrLinkLive for a live link, linkstore.ErrNotFound for an
// unknown code.
func (s *Store) Release(ctx context.Context, domain, code string) error {
	res, err := s.w.ExecContext(ctx, sqlRelease, code, domain)
	if err != nil {
		return fmt.Errorf("sqlitestore: release %q: %w", code, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlitestore: release %q: %w", code, err)
	} else if n == 1 {
		return nil
	}
	var exists bool
	if err := s.w.QueryRowContext(ctx, sqlExists, code, domain).Scan(&exists); err != nil {
		return fmt.Errorf("sqlitestore: release %q: %w", code, err)
	}
	if exists {
		return linkstore.ErrLinkLive
	}
	return linkstore.ErrNotFound
}

// sqlTakedown sets or clears (?2 and ?3 NULL) a live link's takedown.
const sqlTakedown = `UPDATE links SET takedown_reason = ?2, takedown_at = ?3
WHERE code = ?1 AND domain = ?4 AND retired_at IS NULL
RETURNING ` + linkColumns

// TakeDown marks a live link taken down, or returns linkstore.ErrNotFound.
func (s *Store) TakeDown(ctx context.Context, domain, code, reason string, at time.Time) (linkstore.Link, error) {
	if err := linkstore.CheckTakedown(reason, at); err != nil {
		return linkstore.Link{}, fmt.Errorf("sqlitestore: take down %q: %w", code, err)
	}
	return s.setTakedown(ctx, domain, code, sql.NullString{String: reason, Valid: true},
		sql.NullInt64{Int64: at.UnixMicro(), Valid: true})
}

// LiftTakedown clears a live link's takedown, or returns
// linkstore.ErrNotFound.
func (s *Store) LiftTakedown(ctx context.Context, domain, code string) (linkstore.Link, error) {
	return s.setTakedown(ctx, domain, code, sql.NullString{}, sql.NullInt64{})
}

func (s *Store) setTakedown(ctx context.Context, domain, code string, reason sql.NullString, at sql.NullInt64) (linkstore.Link, error) {
	return changedLink(s.w.QueryRowContext(ctx, sqlTakedown, code, reason, at, domain), code, "takedown of")
}
