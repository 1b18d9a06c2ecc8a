package partitions

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

// MigrationsTable records the applied versions of the whole stats schema
// (the time-series tables and stats_offsets), apart from the link store's
// schema_migrations: the two schemas may share one database and are
// versioned independently.
const MigrationsTable = "stats_schema_migrations"

// LegacyOffsetsMigrationsTable is where the stats service recorded the
// stats_offsets migration before this package owned it. Migration 0003
// adopts the table it made (CREATE TABLE IF NOT EXISTS) and leaves this
// one in place, untouched: an older stats binary still starting during a
// rolling upgrade finds its version applied there and does not try to
// create stats_offsets again.
const LegacyOffsetsMigrationsTable = "stats_ingest_schema_migrations"

// Migrate applies the stats schema's embedded PostgreSQL migrations that
// the database lacks (migrations.ApplyPostgres, recorded in
// stats_schema_migrations). It is safe to call from several processes at
// once and to call again. The tables land in the connection's current
// schema. The stats service calls it too, to start before the control
// plane.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations.Load(migrationFS, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	if err := migrations.ApplyPostgres(ctx, pool, MigrationsTable, ms); err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	return nil
}

// MigrateSQLite applies the stats schema's embedded SQLite migrations that
// the file lacks (migrations.ApplySQLite, recorded in
// stats_schema_migrations). db should begin its transactions IMMEDIATE
// (_txlock=immediate) so that two processes migrating one file serialise on
// its write lock instead of failing.
func MigrateSQLite(ctx context.Context, db *sql.DB) error {
	ms, err := migrations.Load(migrationFS, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	if err := migrations.ApplySQLite(ctx, db, MigrationsTable, ms); err != nil {
		return fmt.Errorf("partitions: %w", err)
	}
	return nil
}
