package migrations

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenSQLite: the file's directory is created, and every connection
// has the pragmas the writing stores rely on.
func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "shortify.db")
	db, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"busy_timeout", "10000"},
		{"synchronous", "1"}, // NORMAL
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file is not there: %v", err)
	}
	// IMMEDIATE transactions: a write transaction holds the lock from BEGIN,
	// so a second one waits (here: a connection that cannot wait fails).
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1) // the connection told not to wait is the one that writes
	if _, err := other.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(t.Context(), "CREATE TABLE t (n INTEGER)"); err == nil {
		t.Error("a write went through while an IMMEDIATE transaction held the file")
	}
}

// TestOpenSQLiteRefusesABadDirectory: a directory that cannot be made is
// an error, not a file somewhere else.
func TestOpenSQLiteRefusesABadDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := OpenSQLite(filepath.Join(file, "sub", "shortify.db")); err == nil {
		db.Close()
		t.Fatal("OpenSQLite under a regular file: no error")
	}
}
