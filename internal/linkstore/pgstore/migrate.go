package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// MigrationLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations across processes: several nodes may start at once. It is
// "shortify" in ASCII. Other packages' migrations may take the same lock so
// that all of Shortify's schema changes run one at a time.
const MigrationLockKey int64 = 0x73686f7274696679

// migration is one embedded schema change, named NNNN_description.sql.
type migration struct {
	version int
	name    string
	sql     string
}

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
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, pool, m); err != nil {
			return fmt.Errorf("pgstore: migrate %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, m migration) error {
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
			"SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.version,
		).Scan(&applied)
		if err != nil || applied {
			return err
		}
		// No arguments: pgx sends it with the simple protocol, so a file
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
		return err
	})
}

// loadMigrations reads migrations/NNNN_name.sql from fsys, in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
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
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: name, sql: string(b)})
	}
	return ms, nil
}
