package partitions

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// beforeWorkspaces is the number of stats migrations before 0004, which
// added workspace_id.
const beforeWorkspaces = 3

// seedBeforeWorkspaces writes a link's row and the roll-up's row to
// each aggregate table, as the ingest did before workspaces. exec runs a
// statement written with PostgreSQL's $n placeholders; at is a bucket.
func seedBeforeWorkspaces(t *testing.T, exec func(string, ...any) error, at any) {
	t.Helper()
	for _, table := range []string{"clicks_hourly", "clicks_daily"} {
		for _, q := range []string{
			`INSERT INTO ` + table + ` (bucket, code, link_id, bot, clicks) VALUES ($1, 'abc', 7, false, 3)`,
			`INSERT INTO ` + table + ` (bucket, code, link_id, bot, clicks) VALUES ($1, '', 0, false, 3)`,
			`INSERT INTO ` + table + `_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES ($1, 'abc', 7, false, 'country', 'DE', 3)`,
			`INSERT INTO ` + table + `_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES ($1, '', 0, false, 'country', 'DE', 3)`,
		} {
			if err := exec(q, at); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if err := exec(`INSERT INTO clicks (occurred_at, code, link_id, status) VALUES ($1, 'abc', 7, 302)`, at); err != nil {
		t.Fatal(err)
	}
}

// checkWorkspaces checks what migration 0004 made of seedBeforeWorkspaces'
// rows: the link's rows and the raw click in workspace 1, the roll-up
// twice (workspace 1's and the instance-wide one, workspace 0), and that
// a workspace's roll-up beside them and a link row of workspace 0 are
// refused. at2 is a bucket of a month made after the migration.
func checkWorkspaces(t *testing.T, db *sql.DB, rebind func(string) string, at2 any) {
	t.Helper()
	for table, want := range map[string]string{
		"clicks_hourly": "abc/7/1 /0/0 /0/1", "clicks_daily": "abc/7/1 /0/0 /0/1",
		"clicks_hourly_dims": "abc/7/1 /0/0 /0/1", "clicks_daily_dims": "abc/7/1 /0/0 /0/1",
		"clicks": "abc/7/1",
	} {
		var got string
		q := `SELECT COALESCE(string_agg(code || '/' || link_id || '/' || workspace_id, ' ' ORDER BY code DESC, workspace_id), '') FROM ` + table
		if err := db.QueryRowContext(t.Context(), rebind(q)).Scan(&got); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if got != want {
			t.Errorf("%s after the migration: %q, want %q", table, got, want)
		}
	}
	for _, c := range []struct {
		q  string
		ok bool
	}{
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, '', 0, false, 1, 2)`, true},
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, 'xyz', 9, false, 1, 2)`, true},
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, '', 0, false, 1, 0)`, true},
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, '', 0, false, 1, 2)`, false}, // the key
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, 'abc', 7, false, 1, 0)`, false},
		{`INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks, workspace_id) VALUES ($1, 'abc', 7, false, 1, -1)`, false},
		{`INSERT INTO clicks (occurred_at, code, link_id, status, workspace_id, domain) VALUES ($1, 'xyz', 9, 302, 2, 'go.example')`, true},
	} {
		_, err := db.ExecContext(t.Context(), rebind(c.q), at2)
		if (err == nil) != c.ok {
			t.Errorf("%s in a month made after the migration: %v, want success %v", c.q, err, c.ok)
		}
	}
}

func TestWorkspacesMigrationPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	ctx := t.Context()
	p := pool(t, dsn)
	ms, err := migrations.Load(migrationFS, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.ApplyPostgres(ctx, p, MigrationsTable, ms[:beforeWorkspaces]); err != nil {
		t.Fatal(err)
	}
	old := month(2026, 3)
	m, err := Open(ctx, Config{DSN: dsn, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.EnsureAhead(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	seedBeforeWorkspaces(t, func(q string, args ...any) error { _, err := p.Exec(ctx, q, args...); return err }, old.Add(24*time.Hour))
	setup(t, Config{DSN: dsn}) // migrates
	// The upkeep makes a month after the migration: it must have the
	// new columns, key and checks.
	later := month(2026, 5)
	if _, err := m.EnsureAhead(ctx, later, 0); err != nil {
		t.Fatal(err)
	}
	var cols int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name LIKE '%_y2026m05' AND column_name = 'workspace_id'`).Scan(&cols); err != nil || cols != 5 {
		t.Fatalf("partitions of 2026-05 with workspace_id: %d, %v; want 5", cols, err)
	}
	checkWorkspaces(t, stdlibOf(t, dsn), func(q string) string { return q }, later.Add(24*time.Hour))
}

func TestWorkspacesMigrationSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := sqliteFile(t)
	ms, err := migrations.Load(migrationFS, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.ApplySQLite(ctx, db, MigrationsTable, ms[:beforeWorkspaces]); err != nil {
		t.Fatal(err)
	}
	// The same statements: $1 as ?1, false as 0.
	rebind := strings.NewReplacer("$1", "?1", "false", "0").Replace
	seedBeforeWorkspaces(t, func(q string, args ...any) error { _, err := db.ExecContext(ctx, rebind(q), args...); return err },
		month(2026, 3).Add(24*time.Hour).UnixMicro())
	m, err := Open(ctx, Config{DSN: "sqlite://" + path, Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	checkWorkspaces(t, db, rebind, month(2026, 5).Add(24*time.Hour).UnixMicro())
}
