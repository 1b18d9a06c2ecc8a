package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate applies the embedded migrations that the file lacks, in version
// order, each in its own transaction recorded in schema_migrations. db's
// transactions begin IMMEDIATE, so each holds the write lock from its first
// statement: a Store opening the same file in another process waits for it
// (busy_timeout), then finds the version applied and skips it.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return migrations.ApplySQLite(ctx, db, "schema_migrations", ms)
}
