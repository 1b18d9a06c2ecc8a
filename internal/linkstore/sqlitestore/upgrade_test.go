package sqlitestore

import (
	"database/sql"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/migrations"
)

// TestUpgradeToWorkspacesAndDomains makes a file with the current
// release's migrations (up to 0004), stores links in every state with its
// columns, and opens the new store on it: migration 0006 rebuilds the
// table with the links in the default workspace on the own host, with
// their states and codes and the indexes List reads, and 0007 (the
// contract step) drops links_code_key, so that an alias is unique per
// domain.
func TestUpgradeToWorkspacesAndDomains(t *testing.T) {
	ctx := t.Context()
	dsn := tempDSN(t)
	db := migratedFile(t, dsn, storetest.PreDomainMigrations(t, migrationFS))
	links := storetest.UpgradeLinks()
	for _, l := range links {
		_, err := db.ExecContext(ctx, `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host,
	retired_at, retired_reason, takedown_reason, takedown_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.Code, l.ID, l.URL, l.Status, l.CreatedAt.UnixMicro(), nullMicros(l.ExpiresAt), l.Disabled,
			linkstore.HostOf(l.URL), nullMicros(l.RetiredAt), nullText(string(l.RetiredReason)),
			nullText(l.TakedownReason), nullMicros(l.TakedownAt))
		if err != nil {
			t.Fatalf("insert with the old schema: %v", err)
		}
	}
	db.Close()
	s := open(t, dsn)
	storetest.CheckUpgraded(t, s, links)
	var indexes int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'links'
	AND name IN ('links_id_idx', 'links_host_id_idx', 'links_expires_at_idx', 'links_workspace_id_idx')`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 4 {
		t.Errorf("%d of the 4 indexes of links after the upgrade", indexes)
	}
	var codeKey int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'links_code_key'`).Scan(&codeKey); err != nil || codeKey != 0 {
		t.Errorf("links_code_key after the upgrade: %d, %v; want it dropped by 0007", codeKey, err)
	}
}

// migratedFile opens the file of dsn with database/sql alone and applies
// ms to it, the schema of an earlier release for an upgrade test to fill;
// the test closes it before opening the store.
func migratedFile(t *testing.T, dsn string, ms []migrations.Migration) *sql.DB {
	t.Helper()
	path, _ := ParseDSN(dsn)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := migrations.ApplySQLite(t.Context(), db, "schema_migrations", ms); err != nil {
		t.Fatal(err)
	}
	return db
}

func nullMicros(at time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: at.UnixMicro(), Valid: !at.IsZero()}
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
