package domainmirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// sqliteStore is the Store on the link store's SQLite file. Its
// transactions wait for another writer as the link store's do (see package
// sqlitestore).
type sqliteStore struct{ db *sql.DB }

func openSQLite(ctx context.Context, path string) (Store, error) {
	db, err := ownMigrations.OpenSQLite(ctx, path, 2)
	if err != nil {
		return nil, fmt.Errorf("domainmirror: %w", err)
	}
	return &sqliteStore{db: db}, nil
}

func (s *sqliteStore) Close() { s.db.Close() }

func (s *sqliteStore) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := s.db.QueryRowContext(ctx, `SELECT generation FROM domain_mirror_state WHERE id = 1`).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("domainmirror: generation: %w", err)
	}
	return g, nil
}

func (s *sqliteStore) Load(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT generation FROM domain_mirror_state WHERE id = 1`).Scan(&snap.Generation)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		snap.Entries, err = sqliteEntries(ctx, tx)
		return err
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("domainmirror: load: %w", err)
	}
	return snap, nil
}

func (s *sqliteStore) Replace(ctx context.Context, entries []Entry) (int64, bool, error) {
	entries, digest := Normalize(entries)
	var gen int64
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT generation, digest FROM domain_mirror_state WHERE id = 1`).Scan(&gen, &old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && old == digest {
			return nil
		}
		changed = true
		stored, err := sqliteEntries(ctx, tx)
		if err != nil {
			return err
		}
		del, put := diff(stored, entries)
		for _, d := range del {
			if _, err := tx.ExecContext(ctx, `DELETE FROM domain_mirror WHERE domain = ?`, d); err != nil {
				return err
			}
		}
		for _, e := range put {
			if _, err := tx.ExecContext(ctx, `INSERT INTO domain_mirror (domain, workspace_id, verified, root_redirect, not_found_redirect, redirect_status)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (domain) DO UPDATE SET workspace_id = excluded.workspace_id, verified = excluded.verified,
	root_redirect = excluded.root_redirect, not_found_redirect = excluded.not_found_redirect,
	redirect_status = excluded.redirect_status`,
				e.Domain, e.WorkspaceID, e.Verified, e.RootRedirect, e.NotFoundRedirect, e.RedirectStatus); err != nil {
				return err
			}
		}
		gen++
		_, err = tx.ExecContext(ctx, `INSERT INTO domain_mirror_state (id, generation, digest, updated_at) VALUES (1, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, digest = excluded.digest, updated_at = excluded.updated_at`,
			gen, digest, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("domainmirror: replace: %w", err)
	}
	return gen, changed, nil
}

// sqliteEntries reads every stored row, sorted by domain.
func sqliteEntries(ctx context.Context, tx *sql.Tx) ([]Entry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT domain, workspace_id, verified, root_redirect, not_found_redirect, redirect_status FROM domain_mirror ORDER BY domain`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Domain, &e.WorkspaceID, &e.Verified, &e.RootRedirect, &e.NotFoundRedirect, &e.RedirectStatus); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *sqliteStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
