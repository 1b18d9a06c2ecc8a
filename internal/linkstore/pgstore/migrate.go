package pgstore

import (
	"context"
	"embed"
	"errors"
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

// migrateLockKey is the session advisory lock that serialises whole
// Migrate calls: the contract-path check and the migrations after it.
// Each migration takes MigrationLockKey in a transaction of its own, so
// between two of them another node starting at the same moment would see
// a database half way through its first migrations, which the check
// cannot tell from an old release's (it refused such nodes at start).
const migrateLockKey = MigrationLockKey + 1

// Migrate applies the embedded migrations that the database lacks, in
// version order, each in its own transaction that first takes
// pg_advisory_xact_lock(MigrationLockKey) and records the version in
// schema_migrations, all under the session lock migrateLockKey. It is safe
// to call from several processes at once and to call again: applied
// versions are skipped.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	defer func() {
		// A connection that kept the lock must not go back to the pool.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if err := checkContractPath(ctx, conn); err != nil {
		return err
	}
	if err := migrations.ApplyPostgres(ctx, conn, "schema_migrations", ms); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// expandVersion is the expand step of the rolling upgrade to links on
// custom domains (docs/decisions/0004-workspace-links.md): 0006 adds the
// (code, domain) key beside links_pkey, which 0007, the contract step,
// drops.
const (
	expandVersion = 6
	// expandRelease is the commit of the release that carries 0006 and
	// not 0007.
	expandRelease = "40bb343"
)

// ErrSkippedExpandRelease is returned by Migrate (and Open with Migrate)
// for a database of a release before migration 0006: the contract step
// must not be applied while nodes of that release may still run (their
// inserts name ON CONFLICT (code), and their reads no domain), so the
// upgrade goes through the release of 0006 first.
var ErrSkippedExpandRelease = errors.New("pgstore: the database predates migration 0006; upgrade every node to the release of migration 0006 (commit " + expandRelease + ") first, then to this one (docs/operations.md, \"Upgrading\")")

// checkContractPath refuses to migrate a database that has migrations
// applied but not 0006 (nor, then, 0007): one made by a release before
// 0006. A new database, or one at 0006 or later, passes.
func checkContractPath(ctx context.Context, conn *pgxpool.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if !exists {
		return nil
	}
	var applied, expanded int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE version >= $1) FROM schema_migrations`,
		expandVersion).Scan(&applied, &expanded); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if applied > 0 && expanded == 0 {
		return ErrSkippedExpandRelease
	}
	return nil
}
