package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// MigrationLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations across processes: several nodes may start at once. It is
// "shortify" in ASCII. Other packages' migrations may take the same lock so
// that all of Shortify's schema changes run one at a time.
const MigrationLockKey int64 = 0x73686f7274696679

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the embedded migrations that the database lacks, in
// version order, each in its own transaction that first takes
// pg_advisory_xact_lock(MigrationLockKey) and records the version in
// schema_migrations. It is safe to call from several processes at once and
// to call again: applied versions are skipped.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, pool, m); err != nil {
			return fmt.Errorf("pgstore: migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migrations.Migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The lock is held until the transaction ends, so the check below
		// and the change cannot interleave with another node's.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", MigrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return err
		}
		var applied bool
		err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version,
		).Scan(&applied)
		if err != nil || applied {
			return err
		}
		// No arguments: pgx sends it with the simple protocol, so a file
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
		return err
	})
}
