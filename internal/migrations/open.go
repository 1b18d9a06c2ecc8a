package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Embedded is one store's own migrations: the files under Dir of FS
// (Dir/postgres and Dir/sqlite) and the table that records them. The
// small stores that share the link database (the block set, the
// custom-domain mirror) keep their migrations apart from the link
// store's in this way.
type Embedded struct {
	FS    fs.FS
	Dir   string // e.g. "migrations": the files are in migrations/postgres and migrations/sqlite
	Table string
}

// OpenPostgres connects a pool of at most maxConns connections to dsn
// and, when migrate is set, applies e's PostgreSQL migrations. Its errors
// never show the password (pgxpool's redact it).
func (e Embedded) OpenPostgres(ctx context.Context, dsn string, maxConns int32, migrate bool) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	if migrate {
		ms, err := Load(e.FS, e.Dir+"/postgres")
		if err == nil {
			err = ApplyPostgres(ctx, pool, e.Table, ms)
		}
		if err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

// OpenSQLite opens the SQLite file at path (OpenSQLite) with at most
// maxConns connections and applies e's SQLite migrations: SQLite has no
// separate migrating step, every opener checks them.
func (e Embedded) OpenSQLite(ctx context.Context, path string, maxConns int) (*sql.DB, error) {
	db, err := OpenSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	ms, err := Load(e.FS, e.Dir+"/sqlite")
	if err == nil {
		err = ApplySQLite(ctx, db, e.Table, ms)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
