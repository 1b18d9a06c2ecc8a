package blockset

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestUpgradeReviewsPerDomain: a flag kept by code alone (migration 0005)
// is the own host's link's after migration 0009, and the custom domain's
// link with the same code can then be flagged apart from it.
func TestUpgradeReviewsPerDomain(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, old := range map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "links.db")
			db, err := migrations.OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			applyFirst(t, "sqlite", func(ms []migrations.Migration) error {
				return migrations.ApplySQLite(context.Background(), db, migrationsTable, ms)
			})
			insertOldFlag(t, func(q string, args ...any) error { _, err := db.Exec(q, args...); return err }, "?", at.UnixMicro())
			return "sqlite://" + path
		},
		"postgres": func(t *testing.T) string {
			dsn := testenv.Schema(t)
			pool, err := pgxpool.New(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			applyFirst(t, "postgres", func(ms []migrations.Migration) error {
				return migrations.ApplyPostgres(context.Background(), pool, migrationsTable, ms)
			})
			insertOldFlag(t, func(q string, args ...any) error {
				_, err := pool.Exec(context.Background(), q, args...)
				return err
			}, "$1", at)
			return dsn
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, old(t), true)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			own, acme := linkstore.Key{Code: "promo"}, linkstore.Key{Domain: "go.acme.example", Code: "promo"}
			if err := s.Flag(ctx, []Review{{Domain: acme.Domain, Code: acme.Code, Reason: "new", Source: "lookalike", At: at}}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Reviews(ctx, []linkstore.Key{own, acme})
			want := map[linkstore.Key]Review{
				own:  {Code: "promo", Reason: "old", Source: "urlhaus", At: at},
				acme: {Domain: acme.Domain, Code: "promo", Reason: "new", Source: "lookalike", At: at},
			}
			if err != nil || len(got) != 2 || got[own] != want[own] || got[acme] != want[acme] {
				t.Fatalf("Reviews after the upgrade = %+v, %v", got, err)
			}
		})
	}
}

// applyFirst applies the store's first migration (0005) only.
func applyFirst(t *testing.T, dialect string, apply func([]migrations.Migration) error) {
	t.Helper()
	ms, err := migrations.Load(migrationFS, "migrations/"+dialect)
	if err != nil || len(ms) < 2 || ms[0].Version != 5 {
		t.Fatalf("migrations %+v, %v", ms, err)
	}
	if err := apply(ms[:1]); err != nil {
		t.Fatal(err)
	}
}

// insertOldFlag inserts a flag as a release before 0009 did, by code
// alone; placeholder is the dialect's first.
func insertOldFlag(t *testing.T, do func(q string, args ...any) error, placeholder string, at any) {
	t.Helper()
	if err := do(`INSERT INTO link_reviews (code, reason, source, flagged_at) VALUES ('promo', 'old', 'urlhaus', `+placeholder+`)`, at); err != nil {
		t.Fatal(err)
	}
}
