// Package teststore opens the real link stores for the tests of the
// packages that use a store (the API, the cleanup, the control plane):
// a SQLite file of the test's own, or a migrated PostgreSQL store, each
// closed when the test ends. (Not part of storetest: the stores' own
// tests import storetest, which therefore cannot import them.)
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// SQLite opens a store on a new SQLite file in the test's temporary
// directory.
func SQLite(tb testing.TB) *sqlitestore.Store {
	tb.Helper()
	return SQLiteFile(tb, filepath.Join(tb.TempDir(), "links.db"))
}

// SQLiteFile opens a store on the SQLite file at path, for tests that
// keep other files beside it.
func SQLiteFile(tb testing.TB, path string) *sqlitestore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(context.Background(), linkstore.Config{DSN: "sqlite://" + path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Postgres opens a migrated store on the PostgreSQL database dsn
// (testenv.Database or testenv.Schema).
func Postgres(tb testing.TB, dsn string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), linkstore.Config{DSN: dsn, Migrate: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Backends are the two stores by name, "sqlite" and "postgres" (in a
// schema of the test's own), for tests that run against both.
var Backends = map[string]func(t *testing.T) linkstore.Store{
	"sqlite":   func(t *testing.T) linkstore.Store { return SQLite(t) },
	"postgres": func(t *testing.T) linkstore.Store { return Postgres(t, testenv.Schema(t)) },
}
