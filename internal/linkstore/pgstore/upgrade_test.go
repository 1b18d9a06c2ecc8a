package pgstore

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestUpgradeToWorkspacesAndDomains makes a database with the current
// release's migrations (up to 0004), stores links in every state with its
// columns, and opens the new store on it: migration 0006 puts them in
// the default workspace on the own host, with their states and codes,
// and the previous release's create statement keeps working on it.
func TestUpgradeToWorkspacesAndDomains(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.Schema(t)
	pool := migratedPool(t, dsn, storetest.PreDomainMigrations(t, migrationFS))
	links := storetest.UpgradeLinks()
	for _, l := range links {
		_, err := pool.Exec(ctx, `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host,
	retired_at, retired_reason, takedown_reason, takedown_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			l.Code, l.ID, l.URL, l.Status, l.CreatedAt, nullTime(l.ExpiresAt), l.Disabled, linkstore.HostOf(l.URL),
			nullTime(l.RetiredAt), nullText(string(l.RetiredReason)), nullText(l.TakedownReason), nullTime(l.TakedownAt))
		if err != nil {
			t.Fatalf("insert with the old schema: %v", err)
		}
	}
	s := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	if n := countMigrations(t, s.Primary()); n != len(storetest.PreDomainMigrations(t, migrationFS))+1 {
		t.Errorf("%d migrations recorded after the upgrade", n)
	}
	storetest.CheckUpgraded(t, s, links)
	// Nodes still on the previous release keep creating on the migrated
	// database (TestRollingUpgradeOldReleaseCreates has the details).
	oldCreateOne(t, pool, links[0], false)
	oldCreateOne(t, pool, storetest.NewLink(), true)
}

func nullTime(at time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: at, Valid: !at.IsZero()}
}

func nullText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// migratedPool connects to dsn's schema, closed when the test ends, and
// applies ms: a database as an older release left it.
func migratedPool(t *testing.T, dsn string, ms []migrations.Migration) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := migrations.ApplyPostgres(t.Context(), pool, "schema_migrations", ms); err != nil {
		t.Fatal(err)
	}
	return pool
}
