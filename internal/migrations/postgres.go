package migrations

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LockKey is the pg_advisory_xact_lock key that serialises every Shortify
// schema migration across processes: several nodes may start at once, and
// the link store and the stats schema may share one database. It is
// "shortify" in ASCII.
const LockKey int64 = 0x73686f7274696679

// Beginner is what ApplyPostgres runs its transactions on: a pool, or one
// connection of it (a caller that holds a session lock on it).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ApplyPostgres applies the migrations that the database lacks, in order,
// each in its own transaction that first takes pg_advisory_xact_lock(LockKey)
// and records the version in table (created when missing). It is safe to
// call from several processes at once and to call again: applied versions
// are skipped. table is a trusted constant of the calling store.
func ApplyPostgres(ctx context.Context, pool Beginner, table string, ms []Migration) error {
	for _, m := range ms {
		if err := pgApply(ctx, pool, pgx.Identifier{table}.Sanitize(), m); err != nil {
			return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func pgApply(ctx context.Context, pool Beginner, table string, m Migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The lock is held until the transaction ends, so the check below
		// and the change cannot interleave with another node's.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var applied bool
		err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM "+table+" WHERE version = $1)", m.Version,
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
			"INSERT INTO "+table+" (version, name) VALUES ($1, $2)", m.Version, m.Name)
		return err
	})
}
