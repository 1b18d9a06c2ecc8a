package partitions

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	// The stats tables share the link store's file, as in the embedded
	// default.
	path := filepath.Join(t.TempDir(), "links.db")
	dsn := "sqlite://" + path
	ls, err := sqlitestore.Open(t.Context(), linkstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	m, _ := setup(t, Config{DSN: dsn, Now: func() time.Time { return now }})
	if again, err := Open(t.Context(), Config{DSN: dsn, Migrate: true, Logger: quiet}); err != nil {
		t.Fatalf("second Open: %v", err)
	} else {
		again.Close()
	}
	if m.Partitioned() {
		t.Error("SQLite claims partitions")
	}

	if ps, err := m.List(t.Context()); err != nil || len(ps) != 0 {
		t.Errorf("List = %v, %v; want empty", ps, err)
	}
	if created, err := m.EnsureAhead(t.Context(), now, 3); err != nil || len(created) != 0 {
		t.Errorf("EnsureAhead = %v, %v; want nothing", created, err)
	}
	if _, err := m.Create(t.Context(), "", 3); !errors.Is(err, ErrUnpartitioned) {
		t.Errorf("Create = %v, want ErrUnpartitioned", err)
	}
	if _, err := m.Drop(t.Context(), "clicks_y2025m01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Drop = %v, want ErrNotFound", err)
	}

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The cutoff is 365 days before now: 2025-03-10 12:00 UTC.
	cutoff := now.Add(-365 * 24 * time.Hour)
	us := func(t time.Time) int64 { return t.UnixMicro() }
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const old = 12_345 // more than two delete batches
	for i := range old {
		if _, err := tx.Exec(`INSERT INTO clicks (occurred_at, code, link_id, status) VALUES (?, 'abc', 1, 302)`,
			us(cutoff.Add(-time.Duration(i+1)*time.Microsecond))); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO clicks (occurred_at, code, link_id, status) VALUES (?, 'abc', 1, 302)`, []any{us(cutoff)}},
		// The 11:00 bucket ends at the cutoff: gone. 12:00 stays.
		{`INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks) VALUES (?, 'abc', 1, 0, 1)`, []any{us(cutoff.Add(-time.Hour))}},
		{`INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks) VALUES (?, 'abc', 1, 0, 1)`, []any{us(cutoff)}},
		{`INSERT INTO clicks_hourly_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES (?, '', 0, 0, 'country', 'DE', 1)`, []any{us(cutoff.Add(-time.Hour))}},
		// 9 March ended before the cutoff: gone. 10 March reaches past it.
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks) VALUES (?, 'abc', 1, 0, 1)`, []any{us(time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC))}},
		{`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks) VALUES (?, 'abc', 1, 0, 1)`, []any{us(time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC))}},
		{`INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES (?, 'abc', 1, 1, 'os', 'Linux', 1)`, []any{us(time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC))}},
	} {
		if _, err := tx.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	ex, err := m.ApplyRetention(t.Context(), now, 365*24*time.Hour, true)
	if err != nil {
		t.Fatalf("ApplyRetention: %v", err)
	}
	if want := int64(old + 1 + 1 + 1); ex.Rows != want || len(ex.Partitions) != 0 {
		t.Errorf("deleted %d rows and %d partitions, want %d rows", ex.Rows, len(ex.Partitions), want)
	}
	for table, want := range map[string]int{"clicks": 1, "clicks_hourly": 1, "clicks_hourly_dims": 0, "clicks_daily": 1, "clicks_daily_dims": 1} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s keeps %d rows, want %d", table, n, want)
		}
	}
	if ex, err := m.ApplyRetention(t.Context(), now, 365*24*time.Hour, false); err != nil || ex.Rows != 0 {
		t.Errorf("second ApplyRetention deleted %d rows, %v", ex.Rows, err)
	}
	// The link store still works on the shared file.
	if err := ls.Create(t.Context(), linkstore.Link{Code: "shared", ID: 1, URL: "https://example.com/", CreatedAt: now}); err != nil {
		t.Errorf("link store on the shared file: %v", err)
	}
}

func TestSQLiteStatsWithLinksOnPostgres(t *testing.T) {
	t.Parallel()
	links := testenv.Schema(t)
	ls, err := pgstore.Open(t.Context(), linkstore.Config{DSN: links, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	ls.Close()
	m, _ := setup(t, Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "stats.db"), LinksDSN: links})
	ps, err := m.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 16 || ps[0].Name != "links_p00" || ps[0].Managed {
		t.Errorf("List = %d partitions, first %+v; want the 16 of links, unmanaged", len(ps), ps[0])
	}
	if _, err := m.Drop(t.Context(), "links_p00"); !errors.Is(err, ErrNotManaged) {
		t.Errorf("Drop(links_p00) = %v, want ErrNotManaged", err)
	}
	if _, err := m.Drop(t.Context(), "clicks_y2020m01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Drop(clicks_y2020m01) = %v, want ErrNotFound", err)
	}
}
