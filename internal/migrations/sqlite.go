package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyWait bounds how long ApplySQLite retries a migration that
// SQLite answers SQLITE_BUSY; it matches the stores' busy_timeout.
const sqliteBusyWait = 10 * time.Second

// OpenSQLite opens the SQLite file at path, creating its directory when
// missing, as every store that writes one opens it: a writer that finds
// the file locked waits up to 10 s for it (busy_timeout, which
// sqliteBusyWait matches), the WAL journal with synchronous NORMAL, and
// transactions that begin IMMEDIATE, as ApplySQLite wants. The caller
// sizes the pool. Only sql.Open runs: nothing is read before the first
// use.
func OpenSQLite(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	q := url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}
	return sql.Open("sqlite", path+"?"+q.Encode())
}

// ApplySQLite applies the migrations that the file lacks, in order, each in
// its own transaction recorded in table (created when missing). db should
// begin its transactions IMMEDIATE (_txlock=immediate), so that each holds
// the write lock from its first statement: a process opening the same file
// waits for it (busy_timeout), then finds the version applied and skips
// it. table is a trusted constant of the calling store.
func ApplySQLite(ctx context.Context, db *sql.DB, table string, ms []Migration) error {
	table = `"` + table + `"`
	for _, m := range ms {
		if err := sqliteApplyWithRetry(ctx, db, table, m); err != nil {
			return fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// sqliteApplyWithRetry applies m, trying again while the file is busy.
// SQLite answers SQLITE_BUSY at once, without waiting for busy_timeout, in
// the moments when another connection opening the same new file switches
// it to WAL mode; stores opened together on one file (the control plane and
// the edge in one process do) would otherwise fail at start now and then.
func sqliteApplyWithRetry(ctx context.Context, db *sql.DB, table string, m Migration) error {
	deadline := time.Now().Add(sqliteBusyWait)
	wait := 5 * time.Millisecond
	for {
		err := sqliteApply(ctx, db, table, m)
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

func sqliteApply(ctx context.Context, db *sql.DB, table string, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT`); err != nil {
		return err
	}
	var applied bool
	err = tx.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM "+table+" WHERE version = ?)", m.Version,
	).Scan(&applied)
	if err != nil || applied {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO "+table+" (version, name) VALUES (?, ?)", m.Version, m.Name); err != nil {
		return err
	}
	return tx.Commit()
}
