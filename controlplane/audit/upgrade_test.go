package audit

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestUpgradeReportDomain: a report stored before migration 0002 is the
// own host's link's after it (domain ""), on both databases.
func TestUpgradeReportDomain(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, old := range map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "links.db")
			db, err := migrations.OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := migrations.ApplySQLite(context.Background(), db, MigrationsTable, firstMigration(t, "sqlite")); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO abuse_reports (created_at, code, url, reason) VALUES (?, 'old', 'https://sho.test/old', 'spam')`, at.UnixMicro()); err != nil {
				t.Fatal(err)
			}
			return "sqlite://" + path
		},
		"postgres": func(t *testing.T) string {
			dsn := testenv.Schema(t)
			pool, err := pgxpool.New(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if err := migrations.ApplyPostgres(context.Background(), pool, MigrationsTable, firstMigration(t, "postgres")); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(context.Background(), `INSERT INTO abuse_reports (created_at, code, url, reason) VALUES ($1, 'old', 'https://sho.test/old', 'spam')`, at); err != nil {
				t.Fatal(err)
			}
			return dsn
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, Config{DSN: old(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.CreateReport(ctx, Report{CreatedAt: at, Domain: "go.acme.example", Code: "old", URL: "https://go.acme.example/old", Reason: "spam"}); err != nil {
				t.Fatal(err)
			}
			rs, err := s.Reports(ctx, ReportQuery{Limit: 10})
			if err != nil || len(rs) != 2 || rs[0].Domain != "go.acme.example" || rs[1].Domain != "" || rs[1].Code != "old" || !rs[1].CreatedAt.Equal(at) {
				t.Fatalf("reports after the upgrade = %+v, %v", rs, err)
			}
		})
	}
}

// firstMigration is the store's migration 0001 alone.
func firstMigration(t *testing.T, dialect string) []migrations.Migration {
	t.Helper()
	ms, err := migrations.Load(migrationFS, "migrations/"+dialect)
	if err != nil || len(ms) < 2 || ms[0].Version != 1 {
		t.Fatalf("migrations %+v, %v", ms, err)
	}
	return ms[:1]
}
