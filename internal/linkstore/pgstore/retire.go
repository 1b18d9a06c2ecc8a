package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// Release, TakeDown and LiftTakedown: the administrator's writes.

// sqlRelease removes a retired row; sqlExists tells a live link from no
// link when it removes nothing.
const (
	sqlRelease = `DELETE FROM links WHERE code = $1 AND domain = $2 AND retired_at IS NOT NULL`
	sqlExists  = `SELECT EXISTS (SELECT 1 FROM links WHERE code = $1 AND domain = $2)`
)

// Release removes a retired link's row, freeing its code; it returns
// linkstore.ErrLinkLive for a live link, linkstore.ErrNotFound for an
// unknown code.
func (s *Store) Release(ctx context.Context, domain, code string) error {
	tag, err := s.primary.Exec(ctx, sqlRelease, code, domain)
	if err != nil {
		return fmt.Errorf("pgstore: release %q: %w", code, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.primary.QueryRow(ctx, sqlExists, code, domain).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: release %q: %w", code, err)
	}
	if exists {
		return linkstore.ErrLinkLive
	}
	return linkstore.ErrNotFound
}

// sqlTakedown sets or clears ($2 and $3 NULL) a live link's takedown.
const sqlTakedown = `UPDATE links SET takedown_reason = $2, takedown_at = $3
WHERE code = $1 AND domain = $4 AND retired_at IS NULL
RETURNING ` + linkColumns

// TakeDown marks a live link taken down, or returns linkstore.ErrNotFound.
func (s *Store) TakeDown(ctx context.Context, domain, code, reason string, at time.Time) (linkstore.Link, error) {
	if err := linkstore.CheckTakedown(reason, at); err != nil {
		return linkstore.Link{}, fmt.Errorf("pgstore: take down %q: %w", code, err)
	}
	return s.setTakedown(ctx, domain, code, &reason, &at)
}

// LiftTakedown clears a live link's takedown, or returns
// linkstore.ErrNotFound.
func (s *Store) LiftTakedown(ctx context.Context, domain, code string) (linkstore.Link, error) {
	return s.setTakedown(ctx, domain, code, nil, nil)
}

func (s *Store) setTakedown(ctx context.Context, domain, code string, reason *string, at *time.Time) (linkstore.Link, error) {
	return changedLink(s.primary.QueryRow(ctx, sqlTakedown, code, reason, at, domain), code, "takedown of")
}
