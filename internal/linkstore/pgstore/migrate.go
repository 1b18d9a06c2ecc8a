package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// MigrationLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations across processes (migrations.LockKey, taken by every
// Shortify schema change).
const MigrationLockKey = migrations.LockKey

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
	if err := migrations.ApplyPostgres(ctx, pool, "schema_migrations", ms); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}
