package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// applier is one dialect's applier and a way to count rows.
type applier struct {
	apply func(ctx context.Context, table string, ms []Migration) error
	count func(t *testing.T, query string) int
}

// testApply: the applier runs each migration once, records it in its own
// table, runs only the new ones when called again, and records nothing of
// a migration that fails (its transaction rolls back).
func testApply(t *testing.T, a applier) {
	ctx := t.Context()
	first := []Migration{
		{1, "things", "CREATE TABLE things (n INTEGER NOT NULL)"},
		{2, "seed", "INSERT INTO things (n) VALUES (1); INSERT INTO things (n) VALUES (2)"},
	}
	for range 2 {
		if err := a.apply(ctx, "test_migrations", first); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.count(t, "SELECT count(*) FROM things"); n != 2 {
		t.Errorf("%d rows after applying twice, want 2 (each migration once)", n)
	}
	more := append(first, Migration{3, "more", "INSERT INTO things (n) VALUES (3)"})
	if err := a.apply(ctx, "test_migrations", more); err != nil {
		t.Fatal(err)
	}
	broken := append(more, Migration{4, "broken", "INSERT INTO things (n) VALUES (4); INSERT INTO nowhere VALUES (1)"})
	if err := a.apply(ctx, "test_migrations", broken); err == nil {
		t.Fatal("a failing migration was applied")
	}
	if n := a.count(t, "SELECT count(*) FROM things"); n != 3 {
		t.Errorf("%d rows, want 3 (the failed migration's insert rolled back)", n)
	}
	if n := a.count(t, "SELECT count(*) FROM test_migrations"); n != 3 {
		t.Errorf("%d versions recorded, want 3", n)
	}
	if err := a.apply(ctx, "other_migrations", first[:1]); err == nil {
		t.Error("another table's versions were taken for this one's")
	}
}

func TestApplyPostgres(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), testenv.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testApply(t, applier{
		apply: func(ctx context.Context, table string, ms []Migration) error {
			return ApplyPostgres(ctx, pool, table, ms)
		},
		count: func(t *testing.T, query string) (n int) {
			if err := pool.QueryRow(t.Context(), query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

func TestApplySQLite(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testApply(t, applier{
		apply: func(ctx context.Context, table string, ms []Migration) error {
			return ApplySQLite(ctx, db, table, ms)
		},
		count: func(t *testing.T, query string) (n int) {
			if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}
