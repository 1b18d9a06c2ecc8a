package domainmirror

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations
var migrationFS embed.FS

// ownMigrations are this package's tables' migrations, kept apart from
// the link store's in migrationsTable.
var ownMigrations = migrations.Embedded{FS: migrationFS, Dir: "migrations", Table: migrationsTable}

// pgStore is the Store on PostgreSQL.
type pgStore struct{ pool *pgxpool.Pool }

// pgMaxConns is small: the mirror is polled once a second and written by
// the leader now and then.
const pgMaxConns = 2

func openPostgres(ctx context.Context, dsn string, migrate bool) (Store, error) {
	pool, err := ownMigrations.OpenPostgres(ctx, dsn, pgMaxConns, migrate)
	if err != nil {
		return nil, fmt.Errorf("domainmirror: %w", err)
	}
	return &pgStore{pool: pool}, nil
}

func (s *pgStore) Close() { s.pool.Close() }

const pgSelect = `SELECT domain, workspace_id, verified, root_redirect, not_found_redirect, redirect_status FROM domain_mirror ORDER BY domain`

func (s *pgStore) Generation(ctx context.Context) (int64, error) {
	var g int64
	err := s.pool.QueryRow(ctx, `SELECT generation FROM domain_mirror_state WHERE id = 1`).Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("domainmirror: generation: %w", err)
	}
	return g, nil
}

func (s *pgStore) Load(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT generation FROM domain_mirror_state WHERE id = 1`).Scan(&snap.Generation)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, pgSelect)
		if err != nil {
			return err
		}
		snap.Entries, err = pgx.CollectRows(rows, scanPG)
		return err
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("domainmirror: load: %w", err)
	}
	return snap, nil
}

func (s *pgStore) Replace(ctx context.Context, entries []Entry) (int64, bool, error) {
	entries, digest := Normalize(entries)
	var gen int64
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One writer at a time: two leaders overlapping for a moment
		// replace in turn, never interleaved.
		if _, err := tx.Exec(ctx, `LOCK TABLE domain_mirror_state IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var old string
		err := tx.QueryRow(ctx, `SELECT generation, digest FROM domain_mirror_state WHERE id = 1`).Scan(&gen, &old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err == nil && old == digest {
			return nil
		}
		changed = true
		rows, err := tx.Query(ctx, pgSelect)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, scanPG)
		if err != nil {
			return err
		}
		del, put := diff(stored, entries)
		if len(del) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM domain_mirror WHERE domain = ANY($1)`, del); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		for _, e := range put {
			b.Queue(`INSERT INTO domain_mirror (domain, workspace_id, verified, root_redirect, not_found_redirect, redirect_status)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (domain) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, verified = EXCLUDED.verified,
	root_redirect = EXCLUDED.root_redirect, not_found_redirect = EXCLUDED.not_found_redirect,
	redirect_status = EXCLUDED.redirect_status`,
				e.Domain, e.WorkspaceID, e.Verified, e.RootRedirect, e.NotFoundRedirect, e.RedirectStatus)
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		gen++
		_, err = tx.Exec(ctx, `INSERT INTO domain_mirror_state (id, generation, digest, updated_at) VALUES (1, $1, $2, now())
ON CONFLICT (id) DO UPDATE SET generation = EXCLUDED.generation, digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at`, gen, digest)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("domainmirror: replace: %w", err)
	}
	return gen, changed, nil
}

func scanPG(r pgx.CollectableRow) (Entry, error) {
	var e Entry
	err := r.Scan(&e.Domain, &e.WorkspaceID, &e.Verified, &e.RootRedirect, &e.NotFoundRedirect, &e.RedirectStatus)
	return e, err
}
