package storetest

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/workspace"
)

// Upgrade tests: a database made by the current release's migrations
// (before 0006, which adds workspaces and domains), with links in every
// state, migrated by the new release's store.

// PreDomainMigrations loads a store's migrations (fsys, dir "migrations")
// and returns those of the release before workspaces and domains: the
// ones below version 6. It fails the test unless version 6 follows them.
func PreDomainMigrations(tb testing.TB, fsys fs.FS) []migrations.Migration {
	tb.Helper()
	ms := ExpandMigrations(tb, fsys)
	return ms[:len(ms)-1]
}

// ExpandMigrations loads a store's migrations (fsys, dir "migrations")
// and returns them up to version 6, the expand step of the rolling
// upgrade to workspaces and domains. It fails the test unless version 6
// follows older ones.
func ExpandMigrations(tb testing.TB, fsys fs.FS) []migrations.Migration {
	tb.Helper()
	ms, err := migrations.Load(fsys, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	for i, m := range ms {
		if m.Version >= 6 {
			if m.Version != 6 || i == 0 {
				tb.Fatalf("want migration 6 after the older ones, have %+v", ms)
			}
			return ms[:i+1]
		}
	}
	tb.Fatalf("no migration 6 in %+v", ms)
	return nil
}

// SmartMigrations loads a store's migrations and returns those from
// version 8 on: the expand-only steps of smart links (a nullable column, a
// new table) that this release needs to read and write links, and that
// the releases of 0006 and 0007 run alongside. A test of the 0006 rolling
// upgrade applies them after ExpandMigrations, so that this release's
// store stands in for 0006's on the schema as 0006 left it.
func SmartMigrations(tb testing.TB, fsys fs.FS) []migrations.Migration {
	tb.Helper()
	ms, err := migrations.Load(fsys, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	for i, m := range ms {
		if m.Version >= 8 {
			return ms[i:]
		}
	}
	tb.Fatalf("no migration 8 in %+v", ms)
	return nil
}

// UpgradeLinks returns links in every state that the release before
// workspaces stored (live, disabled, expiring, retired after expiry,
// deleted, taken down, deleted while taken down), with IDs from a range
// of their own. The stores' upgrade tests insert them with the old
// schema's columns, Domain and WorkspaceID left zero.
func UpgradeLinks() []linkstore.Link {
	now := time.Now().UTC().Truncate(time.Microsecond)
	base := idBase()
	mk := func(i int) linkstore.Link {
		l := NewLink()
		l.ID = base + int64(i)
		return l
	}
	live, disabled, expiring := mk(0), mk(1), mk(2)
	disabled.Disabled = true
	expiring.ExpiresAt, expiring.Status = now.Add(time.Hour), 301
	expired := mk(3)
	expired.ExpiresAt, expired.RetiredAt, expired.RetiredReason = now.Add(-time.Hour), now, linkstore.RetiredExpired
	deleted := mk(4)
	deleted.Disabled, deleted.RetiredAt, deleted.RetiredReason = true, now, linkstore.RetiredDeleted
	takenDown := mk(5)
	takenDown.TakedownAt, takenDown.TakedownReason = now, "phishing"
	deletedDown := mk(6)
	deletedDown.Disabled, deletedDown.RetiredAt, deletedDown.RetiredReason = true, now, linkstore.RetiredDeleted
	deletedDown.TakedownAt, deletedDown.TakedownReason = now, "malware"
	return []linkstore.Link{live, disabled, expiring, expired, deleted, takenDown, deletedDown}
}

// CheckUpgraded checks, through s, that the links of UpgradeLinks stored
// before migration 0006 are now in the default workspace on the
// instance's own host, each in its state: the owner sees the live ones,
// the edge the ones it saw before, List and CountLive (of a database
// that holds only these links) count the live ones, and every code stays
// taken on the own host, while a custom domain may have the same alias
// (the contract step, migration 0007).
func CheckUpgraded(t *testing.T, s linkstore.Store, links []linkstore.Link) {
	t.Helper()
	ctx := t.Context()
	var live []linkstore.Link
	for _, want := range links {
		got, err := s.LookupPrimary(ctx, "", want.Code)
		switch {
		case !want.EdgeSees():
			if !errors.Is(err, linkstore.ErrNotFound) {
				t.Errorf("Lookup of %q (deleted): %v, want ErrNotFound", want.Code, err)
			}
		case err != nil:
			t.Errorf("Lookup(%q): %v", want.Code, err)
		default:
			CheckLink(t, "upgraded link", got, want)
			if got.RetiredAt.IsZero() != want.RetiredAt.IsZero() || got.RetiredReason != want.RetiredReason ||
				got.TakedownReason != want.TakedownReason || got.TakedownAt.IsZero() != want.TakedownAt.IsZero() {
				t.Errorf("upgraded link %q: retired %v %q, takedown %q; want %v %q, %q", want.Code,
					got.RetiredAt, got.RetiredReason, got.TakedownReason, want.RetiredAt, want.RetiredReason, want.TakedownReason)
			}
		}
		if _, err := s.Get(ctx, "", want.Code); errors.Is(err, linkstore.ErrNotFound) == want.OwnerSees() {
			t.Errorf("Get(%q): %v; the owner sees it: %t", want.Code, err, want.OwnerSees())
		}
		if want.OwnerSees() {
			live = append(live, want)
		}
	}
	if n, err := s.CountLive(ctx, workspace.DefaultID); err != nil || n != int64(len(live)) {
		t.Errorf("CountLive(default) after the upgrade: %d, %v; want %d", n, err, len(live))
	}
	checkList(t, s, linkstore.ListQuery{WorkspaceID: workspace.DefaultID}, newest(live))
	for _, l := range links {
		if err := s.Create(ctx, onDomain("", l.Code)); !errors.Is(err, linkstore.ErrCodeTaken) {
			t.Errorf("Create(%q) on the own host after the upgrade: %v, want ErrCodeTaken", l.Code, err)
		}
	}
	reuse := onDomain(NewDomain(), links[0].Code)
	if err := s.Create(ctx, reuse); err != nil {
		t.Errorf("Create of an upgraded link's code on a custom domain: %v", err)
	}
	CheckLink(t, "the upgraded link beside its alias on a custom domain", ReadLink(t, s, "", links[0].Code), links[0])
}
