package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shortify/shortify/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT`

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
	for _, m := range ms {
		if err := applyWithRetry(ctx, db, m); err != nil {
			return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// applyWithRetry applies m, trying again while the file is busy. SQLite
// answers SQLITE_BUSY at once, without waiting for busy_timeout, in the
// moments when another connection opening the same new file switches it to
// WAL mode; stores opened together on one file (the control plane and the
// edge in one process do) would otherwise fail at start now and then.
func applyWithRetry(ctx context.Context, db *sql.DB, m migrations.Migration) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	wait := 5 * time.Millisecond
	for {
		err := applyMigration(ctx, db, m)
		se, busy := errors.AsType[*sqlite.Error](err)
		if !busy || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func applyMigration(ctx context.Context, db *sql.DB, m migrations.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	var applied bool
	err = tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", m.Version,
	).Scan(&applied)
	if err != nil || applied {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name); err != nil {
		return err
	}
	return tx.Commit()
}
