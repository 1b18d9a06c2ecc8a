package blockset

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/threatlist"
)

//go:embed migrations
var migrationFS embed.FS

// ownMigrations are this package's tables' migrations, kept apart from
// the link store's in migrationsTable.
var ownMigrations = migrations.Embedded{FS: migrationFS, Dir: "migrations", Table: migrationsTable}

// pgStore is the Store on PostgreSQL.
type pgStore struct{ pool *pgxpool.Pool }

// pgMaxConns is small: the store is polled every few seconds and written
// by the leader now and then.
const pgMaxConns = 2

func openPostgres(ctx context.Context, dsn string, migrate bool) (Store, error) {
	pool, err := ownMigrations.OpenPostgres(ctx, dsn, pgMaxConns, migrate)
	if err != nil {
		return nil, fmt.Errorf("blockset: %w", err)
	}
	return &pgStore{pool: pool}, nil
}

func (s *pgStore) Close() { s.pool.Close() }

func (s *pgStore) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := s.pool.QueryRow(ctx, `SELECT generation FROM blockset_state WHERE id = 1`).Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("blockset: generation: %w", err)
	}
	return g, nil
}

func (s *pgStore) Load(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT generation FROM blockset_state WHERE id = 1`).Scan(&snap.Generation)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT kind, value, source FROM blockset_entries`)
		if err != nil {
			return err
		}
		snap.Entries, err = pgx.CollectRows(rows, scanPGEntry)
		return err
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("blockset: load: %w", err)
	}
	return snap, nil
}

func (s *pgStore) Replace(ctx context.Context, entries []threatlist.Sourced) (int64, bool, error) {
	entries, digest := dedupe(entries)
	var gen int64
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One writer at a time: two leaders overlapping for a moment
		// replace in turn, never interleaved.
		if _, err := tx.Exec(ctx, `LOCK TABLE blockset_state IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var old string
		err := tx.QueryRow(ctx, `SELECT generation, digest FROM blockset_state WHERE id = 1`).Scan(&gen, &old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err == nil && old == digest {
			return nil
		}
		changed = true
		rows, err := tx.Query(ctx, `SELECT kind, value, source FROM blockset_entries`)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, scanPGEntry)
		if err != nil {
			return err
		}
		del, add := diff(stored, entries)
		if len(del) > 0 {
			kinds, values := make([]string, len(del)), make([]string, len(del))
			for i, e := range del {
				kinds[i], values[i] = string(e.Kind), e.Value
			}
			if _, err := tx.Exec(ctx, `DELETE FROM blockset_entries WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
				kinds, values); err != nil {
				return err
			}
		}
		ins := make([][]any, len(add))
		for i, e := range add {
			ins[i] = []any{string(e.Kind), e.Value, e.Source}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"blockset_entries"}, []string{"kind", "value", "source"}, pgx.CopyFromRows(ins)); err != nil {
			return err
		}
		gen++
		_, err = tx.Exec(ctx, `INSERT INTO blockset_state (id, generation, digest, updated_at) VALUES (1, $1, $2, now())
ON CONFLICT (id) DO UPDATE SET generation = EXCLUDED.generation, digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at`, gen, digest)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("blockset: replace: %w", err)
	}
	return gen, changed, nil
}

func (s *pgStore) Flag(ctx context.Context, reviews []Review) error {
	if len(reviews) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range reviews {
		b.Queue(`INSERT INTO link_reviews (domain, code, reason, source, flagged_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (domain, code) DO NOTHING`,
			r.Domain, r.Code, r.Reason, r.Source, r.At.UTC().Truncate(time.Microsecond))
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("blockset: flag: %w", err)
	}
	return nil
}

func (s *pgStore) Unflag(ctx context.Context, domain, code string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM link_reviews WHERE domain = $1 AND code = $2`, domain, code)
	if err != nil {
		return false, fmt.Errorf("blockset: unflag: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

func (s *pgStore) Reviews(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]Review, error) {
	out := make(map[linkstore.Key]Review)
	if len(keys) == 0 {
		return out, nil
	}
	domains, codes := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		domains[i], codes[i] = k.Domain, k.Code
	}
	rows, err := s.pool.Query(ctx, `SELECT `+reviewColumns+` FROM link_reviews
WHERE (domain, code) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, domains, codes)
	if err != nil {
		return nil, fmt.Errorf("blockset: reviews: %w", err)
	}
	rs, err := pgx.CollectRows(rows, scanPGReview)
	if err != nil {
		return nil, fmt.Errorf("blockset: reviews: %w", err)
	}
	for _, r := range rs {
		out[r.Key()] = r
	}
	return out, nil
}

func (s *pgStore) ListReviews(ctx context.Context, limit int, after Review) ([]Review, error) {
	q := `SELECT ` + reviewColumns + ` FROM link_reviews ORDER BY flagged_at DESC, domain DESC, code DESC LIMIT $1`
	args := []any{pageLimit(limit)}
	if after.Code != "" {
		q = `SELECT ` + reviewColumns + ` FROM link_reviews WHERE (flagged_at, domain, code) < ($2, $3, $4)
ORDER BY flagged_at DESC, domain DESC, code DESC LIMIT $1`
		args = append(args, after.At.UTC(), after.Domain, after.Code)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("blockset: list reviews: %w", err)
	}
	rs, err := pgx.CollectRows(rows, scanPGReview)
	if err != nil {
		return nil, fmt.Errorf("blockset: list reviews: %w", err)
	}
	return rs, nil
}

func scanPGEntry(r pgx.CollectableRow) (threatlist.Sourced, error) {
	var e threatlist.Sourced
	err := r.Scan(&e.Kind, &e.Value, &e.Source)
	return e, err
}

func scanPGReview(r pgx.CollectableRow) (Review, error) {
	var rv Review
	err := r.Scan(&rv.Domain, &rv.Code, &rv.Reason, &rv.Source, &rv.At)
	rv.At = rv.At.UTC()
	return rv, err
}
