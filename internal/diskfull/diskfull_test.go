package diskfull

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite"
)

// sqliteErr is an error with a SQLite result code, as modernc.org/sqlite
// reports them.
type sqliteErr int

func (e sqliteErr) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e sqliteErr) Code() int     { return int(e) }

func TestIs(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                  {nil, false},
		"ENOSPC":               {syscall.ENOSPC, true},
		"EDQUOT":               {syscall.EDQUOT, true},
		"a write's PathError":  {&fs.PathError{Op: "write", Path: "/data/raft/raft.db", Err: syscall.ENOSPC}, true},
		"wrapped twice":        {fmt.Errorf("apply: %w", fmt.Errorf("store logs: %w", &fs.PathError{Op: "write", Err: syscall.ENOSPC})), true},
		"joined":               {errors.Join(errors.New("other"), syscall.ENOSPC), true},
		"EIO":                  {&fs.PathError{Op: "write", Err: syscall.EIO}, false},
		"SQLITE_FULL":          {sqliteErr(13), true},
		"SQLITE_FULL extended": {fmt.Errorf("insert: %w", sqliteErr(13|1<<8)), true},
		"SQLITE_BUSY":          {sqliteErr(5), false},
		"PostgreSQL disk_full": {fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100"}), true},
		"PostgreSQL unique":    {&pgconn.PgError{Code: "23505"}, false},
		"plain":                {errors.New("no space left, said nobody"), false},
	} {
		if got := Is(tc.err); got != tc.want {
			t.Errorf("%s: Is(%v) = %v, want %v", name, tc.err, got, tc.want)
		}
	}
}

// TestIsSQLiteFull makes SQLite itself run out of space (a page limit,
// which it reports as SQLITE_FULL like a full disk) and recognises the
// driver's error.
func TestIsSQLiteFull(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"CREATE TABLE t (v BLOB)", "PRAGMA max_page_count = 8"} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, full = conn.ExecContext(ctx, "INSERT INTO t VALUES (zeroblob(4096))")
	}
	if full == nil {
		t.Fatal("SQLite never ran out of pages")
	}
	if !Is(full) {
		t.Errorf("Is(%v) = false for SQLite's full database", full)
	}
}
