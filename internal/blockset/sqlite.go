package blockset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/threatlist"
)

// sqliteStore is the Store on the link store's SQLite file. Its
// transactions begin IMMEDIATE and wait up to 10 s for another writer,
// as the link store's do (see package sqlitestore).
type sqliteStore struct{ db *sql.DB }

func openSQLite(ctx context.Context, path string) (Store, error) {
	db, err := ownMigrations.OpenSQLite(ctx, path, 2)
	if err != nil {
		return nil, fmt.Errorf("blockset: %w", err)
	}
	return &sqliteStore{db: db}, nil
}

func (s *sqliteStore) Close() { s.db.Close() }

func (s *sqliteStore) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := s.db.QueryRowContext(ctx, `SELECT generation FROM blockset_state WHERE id = 1`).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("blockset: generation: %w", err)
	}
	return g, nil
}

func (s *sqliteStore) Load(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT generation FROM blockset_state WHERE id = 1`).Scan(&snap.Generation)
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
		return Snapshot{}, fmt.Errorf("blockset: load: %w", err)
	}
	return snap, nil
}

func (s *sqliteStore) Replace(ctx context.Context, entries []threatlist.Sourced) (int64, bool, error) {
	entries, digest := dedupe(entries)
	var gen int64
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT generation, digest FROM blockset_state WHERE id = 1`).Scan(&gen, &old)
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
		del, add := diff(stored, entries)
		rm, err := tx.PrepareContext(ctx, `DELETE FROM blockset_entries WHERE kind = ? AND value = ?`)
		if err != nil {
			return err
		}
		defer rm.Close()
		for _, e := range del {
			if _, err := rm.ExecContext(ctx, string(e.Kind), e.Value); err != nil {
				return err
			}
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO blockset_entries (kind, value, source) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, e := range add {
			if _, err := ins.ExecContext(ctx, string(e.Kind), e.Value, e.Source); err != nil {
				return err
			}
		}
		gen++
		_, err = tx.ExecContext(ctx, `INSERT INTO blockset_state (id, generation, digest, updated_at) VALUES (1, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, digest = excluded.digest, updated_at = excluded.updated_at`,
			gen, digest, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("blockset: replace: %w", err)
	}
	return gen, changed, nil
}

func (s *sqliteStore) Flag(ctx context.Context, reviews []Review) error {
	if len(reviews) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range reviews {
			if _, err := tx.ExecContext(ctx, `INSERT INTO link_reviews (domain, code, reason, source, flagged_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (domain, code) DO NOTHING`,
				r.Domain, r.Code, r.Reason, r.Source, r.At.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("blockset: flag: %w", err)
	}
	return nil
}

func (s *sqliteStore) Unflag(ctx context.Context, domain, code string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM link_reviews WHERE domain = ? AND code = ?`, domain, code)
	if err != nil {
		return false, fmt.Errorf("blockset: unflag: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *sqliteStore) Reviews(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]Review, error) {
	out := make(map[linkstore.Key]Review)
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k.Domain, k.Code)
	}
	q := `SELECT ` + reviewColumns + ` FROM link_reviews WHERE (domain, code) IN (VALUES (?, ?)` + strings.Repeat(", (?, ?)", len(keys)-1) + `)`
	rs, err := s.queryReviews(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("blockset: reviews: %w", err)
	}
	for _, r := range rs {
		out[r.Key()] = r
	}
	return out, nil
}

func (s *sqliteStore) ListReviews(ctx context.Context, limit int, after Review) ([]Review, error) {
	q := `SELECT ` + reviewColumns + ` FROM link_reviews ORDER BY flagged_at DESC, domain DESC, code DESC LIMIT ?`
	args := []any{pageLimit(limit)}
	if after.Code != "" {
		q = `SELECT ` + reviewColumns + ` FROM link_reviews WHERE (flagged_at, domain, code) < (?, ?, ?)
ORDER BY flagged_at DESC, domain DESC, code DESC LIMIT ?`
		args = []any{after.At.UnixMicro(), after.Domain, after.Code, pageLimit(limit)}
	}
	rs, err := s.queryReviews(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("blockset: list reviews: %w", err)
	}
	return rs, nil
}

func (s *sqliteStore) queryReviews(ctx context.Context, q string, args ...any) ([]Review, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Review
	for rows.Next() {
		var r Review
		var at int64
		if err := rows.Scan(&r.Domain, &r.Code, &r.Reason, &r.Source, &at); err != nil {
			return nil, err
		}
		r.At = time.UnixMicro(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// sqliteEntries reads every stored entry.
func sqliteEntries(ctx context.Context, tx *sql.Tx) ([]threatlist.Sourced, error) {
	rows, err := tx.QueryContext(ctx, `SELECT kind, value, source FROM blockset_entries`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []threatlist.Sourced
	for rows.Next() {
		var e threatlist.Sourced
		if err := rows.Scan(&e.Kind, &e.Value, &e.Source); err != nil {
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
