package pgstore

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestUpgradeToWorkspacesAndDomains makes a database with the migrations
// of the release before workspaces (up to 0004), stores links in every
// state with its columns, upgrades it as an installation must: first to
// the release of migration 0006 (the expand step, commit 40bb343), on
// which the previous release's create statement keeps working, then to
// this one, whose store applies 0007 (the contract step). The links are
// then in the default workspace on the own host, with their states and
// codes, and an alias may name a second link on a custom domain.
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
	// This release refuses to skip the release of 0006, and changes
	// nothing.
	if _, err := Open(ctx, linkstore.Config{DSN: dsn, Migrate: true}); !errors.Is(err, ErrSkippedExpandRelease) {
		t.Fatalf("Open with Migrate on a pre-0006 database: %v, want ErrSkippedExpandRelease", err)
	}
	if n := countMigrations(t, pool); n != len(storetest.PreDomainMigrations(t, migrationFS)) {
		t.Fatalf("%d migrations recorded after the refusal", n)
	}
	// The release of 0006 migrates; nodes still on the release before
	// keep creating (TestRollingUpgradeOldReleaseCreates has the details).
	expand := storetest.ExpandMigrations(t, migrationFS)
	if err := migrations.ApplyPostgres(ctx, pool, "schema_migrations", expand); err != nil {
		t.Fatal(err)
	}
	oldCreateOne(t, pool, links[0], false)
	byOld := storetest.NewLink()
	oldCreateOne(t, pool, byOld, true)
	links = append(links, byOld)

	s := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	if n, want := countMigrations(t, s.Primary()), len(expand)+1+len(storetest.SmartMigrations(t, migrationFS)); n != want {
		t.Errorf("%d migrations recorded after the upgrade, want %d", n, want)
	}
	storetest.CheckUpgraded(t, s, links)
	// This is why 0007 waits for a release in which every node runs the
	// 0006 release: the statement of the release before has no key left
	// to name.
	if _, err := pool.Exec(ctx, oldInsertOne, oldArgs(storetest.NewLink())...); err == nil {
		t.Error("the pre-0006 release's ON CONFLICT (code) still works after 0007; the contract step did not drop links_pkey")
	}
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
