package partitions

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore/pgstore"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

// MigrationsTable records the applied versions of the stats schema, apart
// from the link store's schema_migrations: the two schemas may share one
// database and are versioned independently.
const MigrationsTable = "stats_schema_migrations"

// migration is one embedded schema change, named NNNN_description.sql.
type migration struct {
	version int
	name    string
	sql     string
}

const pgCreateMigrationsTable = `CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

const sqliteCreateMigrationsTable = `CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT`

// Migrate applies the stats schema's embedded PostgreSQL migrations that
// the database lacks, in version order, each in its own transaction that
// first takes pg_advisory_xact_lock(pgstore.MigrationLockKey) (the lock of
// every Shortify schema change) and records the version in
// stats_schema_migrations. It is safe to call from several processes at once
// and to call again. The tables land in the connection's current schema.
// The stats service may call it too, to start before the control plane.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations(migrationFS, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("partitions: migrate: %w", err)
	}
	for _, m := range ms {
		if err := pgApply(ctx, pool, m); err != nil {
			return fmt.Errorf("partitions: migrate %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

func pgApply(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Held until the transaction ends: the check and the change
		// cannot interleave with another node's.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgstore.MigrationLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, pgCreateMigrationsTable); err != nil {
			return err
		}
		var applied bool
		err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM "+MigrationsTable+" WHERE version = $1)", m.version,
		).Scan(&applied)
		if err != nil || applied {
			return err
		}
		// No arguments: the simple protocol, so a file may hold several
		// statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"INSERT INTO "+MigrationsTable+" (version, name) VALUES ($1, $2)", m.version, m.name)
		return err
	})
}

// MigrateSQLite applies the stats schema's embedded SQLite migrations that
// the file lacks, each in its own transaction recorded in
// stats_schema_migrations. db should begin its transactions IMMEDIATE
// (_txlock=immediate) so that two processes migrating one file serialise on
// its write lock instead of failing.
func MigrateSQLite(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(migrationFS, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("partitions: migrate: %w", err)
	}
	for _, m := range ms {
		if err := sqliteApply(ctx, db, m); err != nil {
			return fmt.Errorf("partitions: migrate %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

func sqliteApply(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, sqliteCreateMigrationsTable); err != nil {
		return err
	}
	var applied bool
	err = tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM "+MigrationsTable+" WHERE version = ?)", m.version,
	).Scan(&applied)
	if err != nil || applied {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO "+MigrationsTable+" (version, name) VALUES (?, ?)", m.version, m.name); err != nil {
		return err
	}
	return tx.Commit()
}

// loadMigrations reads dir/NNNN_name.sql from fsys, in version order.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by file name
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 || name == "" {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		if len(ms) > 0 && version <= ms[len(ms)-1].version {
			return nil, fmt.Errorf("migration file %q: version %d is not above %d", e.Name(), version, ms[len(ms)-1].version)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: name, sql: string(b)})
	}
	return ms, nil
}
