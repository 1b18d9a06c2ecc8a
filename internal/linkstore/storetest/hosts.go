package storetest

import (
	"io/fs"
	"testing"

	"github.com/shortify/shortify/internal/migrations"
)

// HostURLs are target URLs and the host that linkstore.HostOf derives
// from each: linkstore's unit test checks HostOf against them, and the
// stores' tests check that their SQL derives the same hosts (pgstore's
// backfill in migration 0002).
var HostURLs = []struct{ URL, Host string }{
	{"https://example.com/path", "example.com"},
	{"https://Example.COM/Path", "example.com"},
	{"HTTP://EXAMPLE.ORG", "example.org"},
	{"https://example.com", "example.com"},
	{"https://example.com?q=1", "example.com"},
	{"https://example.com#frag", "example.com"},
	{"https://example.com./x", "example.com"},
	{"https://host.example:8443/x", "host.example"},
	{"http://user:pw@Host.Example:8080/x?y#z", "host.example"},
	{"http://user@host.example/", "host.example"},
	{"https://[2001:DB8::1]:443/x", "2001:db8::1"},
	{"https://[::1]/", "::1"},
	{"https://192.0.2.7:80/", "192.0.2.7"},
	{"https://例え.テスト/パス?q=ü", "例え.テスト"},
	{"ftp://files.example.net/x", "files.example.net"},
	{"mailto:someone@example.com", ""},
	{"https:///path-only", ""},
	{"not a url", ""},
}

// BackfillMigrations loads a store's migrations (fsys, dir "migrations")
// for a test of migration 0002's host backfill, which applies them one at
// a time: it fails the test unless the second one is version 2.
func BackfillMigrations(tb testing.TB, fsys fs.FS) []migrations.Migration {
	tb.Helper()
	ms, err := migrations.Load(fsys, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	if len(ms) < 2 || ms[1].Version != 2 {
		tb.Fatalf("want migrations 1 and 2, have %+v", ms)
	}
	return ms
}
