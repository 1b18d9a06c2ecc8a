package pgstore

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The previous release's create statements (pgstore at commit 6a27543,
// the first parent of the merge d243164 that brought migration 0006),
// copied verbatim: during a rolling upgrade, nodes still on that release
// send them to a database that the first upgraded node has migrated.
const (
	// oldInsert is the previous release's Create (sqlInsert): a unique
	// violation (23505) is its ErrCodeTaken.
	oldInsert = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	// oldInsertOne is the previous release's CreateMany of one link
	// (sqlInsertOne): no row affected is its ErrCodeTaken.
	oldInsertOne = oldInsert + ` ON CONFLICT (code) DO NOTHING`
	// oldInsertMany is the previous release's CreateMany (sqlInsertMany):
	// a code that RETURNING leaves out is its ErrCodeTaken.
	oldInsertMany = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::smallint[],
	$5::timestamptz[], $6::timestamptz[], $7::boolean[], $8::text[])
ON CONFLICT (code) DO NOTHING
RETURNING code`
)

// TestRollingUpgradeOldReleaseCreates: on a schema migrated up to 0006
// (the expand step), the previous release's create statements succeed
// and refuse a taken code as before, whether an old or a new node took
// it, and a new node refuses a code that an old node created, on any
// domain. Version 0006 must not name a contract step: links_pkey on code,
// which ON CONFLICT (code) needs, is dropped only in the release after
// this one (docs/decisions/0004-workspace-links.md, "Rolling upgrade").
func TestRollingUpgradeOldReleaseCreates(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.Schema(t)
	// The new release stands in for 0006's: it needs smart links'
	// expand-only migrations too, which change nothing here.
	pool := migratedPool(t, dsn, append(storetest.ExpandMigrations(t, migrationFS), storetest.SmartMigrations(t, migrationFS)...))
	s := open(t, linkstore.Config{DSN: dsn}) // the new release, on the same schema

	// An old node creates, alone and in a batch; a taken code is refused
	// the old release's ways.
	a, b, c := storetest.NewLink(), storetest.NewLink(), storetest.NewLink()
	oldCreateOne(t, pool, a, true)
	oldCreateOne(t, pool, a, false)
	oldCreate(t, pool, a, false)
	oldCreateMany(t, pool, []linkstore.Link{b, a, c}, []bool{true, false, true})

	// The new node reads them on the own host, in the default workspace,
	// and refuses their codes on every domain.
	for _, l := range []linkstore.Link{a, b, c} {
		storetest.CheckLink(t, "an old node's link", storetest.ReadLink(t, s, "", l.Code), l)
		custom := l
		custom.Domain = storetest.NewDomain()
		if err := s.Create(ctx, custom); !errors.Is(err, linkstore.ErrCodeTaken) {
			t.Errorf("new Create of an old node's code on %q: %v, want ErrCodeTaken", custom.Domain, err)
		}
	}

	// A new node's link, on a custom domain: an old node refuses its
	// code, though it names no domain.
	x, y := storetest.NewLink(), storetest.NewLink()
	x.Domain = storetest.NewDomain()
	if errs := s.CreateMany(ctx, []linkstore.Link{x}); errs[0] != nil {
		t.Fatalf("new CreateMany: %v", errs[0])
	}
	oldCreateOne(t, pool, x, false)
	oldCreate(t, pool, x, false)
	oldCreateMany(t, pool, []linkstore.Link{x, y}, []bool{false, true})
	storetest.CheckLink(t, "the new node's link after the old node's tries", storetest.ReadLink(t, s, x.Domain, x.Code), x)
	storetest.CheckLink(t, "the old node's link after the new node's", storetest.ReadLink(t, s, "", y.Code), y)
}

// oldArgs returns the previous release's arguments of oldInsert for l.
func oldArgs(l linkstore.Link) []any {
	host := linkstore.HostOf(l.URL)
	return []any{l.Code, l.ID, l.URL, l.Status, l.CreatedAt,
		pgtype.Timestamptz{Time: l.ExpiresAt, Valid: !l.ExpiresAt.IsZero()}, l.Disabled,
		pgtype.Text{String: host, Valid: host != ""}}
}

// oldCreate runs oldInsert for l: it must insert it when stored, else
// fail with a unique violation.
func oldCreate(t *testing.T, pool *pgxpool.Pool, l linkstore.Link, stored bool) {
	t.Helper()
	_, err := pool.Exec(t.Context(), oldInsert, oldArgs(l)...)
	pgErr, unique := errors.AsType[*pgconn.PgError](err)
	unique = unique && pgErr.Code == pgUniqueViolation
	if (stored && err != nil) || (!stored && !unique) {
		t.Errorf("old Create(%q): %v; want it stored: %t (else a unique violation)", l.Code, err, stored)
	}
}

// oldCreateOne runs oldInsertOne for l: it must insert one row when
// stored, none (and no error) when the code is taken.
func oldCreateOne(t *testing.T, pool *pgxpool.Pool, l linkstore.Link, stored bool) {
	t.Helper()
	tag, err := pool.Exec(t.Context(), oldInsertOne, oldArgs(l)...)
	if err != nil {
		t.Fatalf("old CreateMany of one (%q): %v", l.Code, err)
	}
	if got := tag.RowsAffected() == 1; got != stored {
		t.Errorf("old CreateMany of one (%q): %d rows; want it stored: %t", l.Code, tag.RowsAffected(), stored)
	}
}

// oldCreateMany runs oldInsertMany for links, as the previous release
// sends it (one array per column, sorted by code), and checks that
// RETURNING names the codes of those stored and no other.
func oldCreateMany(t *testing.T, pool *pgxpool.Pool, links []linkstore.Link, stored []bool) {
	t.Helper()
	sorted := slices.SortedFunc(slices.Values(links), func(a, b linkstore.Link) int { return strings.Compare(a.Code, b.Code) })
	var b batch
	for _, l := range sorted {
		host := linkstore.HostOf(l.URL)
		b.codes, b.ids, b.urls = append(b.codes, l.Code), append(b.ids, l.ID), append(b.urls, l.URL)
		b.statuses, b.created = append(b.statuses, int16(l.Status)), append(b.created, l.CreatedAt)
		b.expires = append(b.expires, pgtype.Timestamptz{Time: l.ExpiresAt, Valid: !l.ExpiresAt.IsZero()})
		b.disabled = append(b.disabled, l.Disabled)
		b.hosts = append(b.hosts, pgtype.Text{String: host, Valid: host != ""})
	}
	rows, err := pool.Query(t.Context(), oldInsertMany,
		b.codes, b.ids, b.urls, b.statuses, b.created, b.expires, b.disabled, b.hosts)
	if err != nil {
		t.Fatalf("old CreateMany: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("old CreateMany: %v", err)
	}
	for i, l := range links {
		if slices.Contains(got, l.Code) != stored[i] {
			t.Errorf("old CreateMany returned %q; want %q stored: %t", got, l.Code, stored[i])
		}
	}
}
