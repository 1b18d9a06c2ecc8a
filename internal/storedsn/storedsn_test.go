package storedsn

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		dsn  string
		want DSN
		err  string // a substring of the error; "" when it parses
	}{
		{"postgres://u:p@db/links", DSN{Dialect: Postgres, URL: "postgres://u:p@db/links"}, ""},
		{"postgresql://db/links?sslmode=verify-full", DSN{Dialect: Postgres, URL: "postgresql://db/links?sslmode=verify-full"}, ""},
		{"sqlite://data/links.db", DSN{Dialect: SQLite, Path: "data/links.db"}, ""},
		{"sqlite:data/links.db", DSN{Dialect: SQLite, Path: "data/links.db"}, ""},
		{"sqlite:///var/lib/shortify/links.db", DSN{Dialect: SQLite, Path: "/var/lib/shortify/links.db"}, ""},
		{"sqlite:/var/lib/shortify/links.db", DSN{Dialect: SQLite, Path: "/var/lib/shortify/links.db"}, ""},
		{"", DSN{}, "no DSN"},
		{"sqlite://", DSN{}, "no file path"},
		{"sqlite:", DSN{}, "no file path"},
		{"sqlite://:memory:", DSN{}, "path of a file"},
		{"sqlite:file:links.db", DSN{}, "path of a file"},
		{"sqlite://links.db?_pragma=foo", DSN{}, "query parameters"},
		{"mysql://admin:hunter2@db.example/links", DSN{}, `unsupported DSN "mysql://admin:xxxxx@db.example/links"`},
		{"POSTGRES://admin:hunter2@db.example/links", DSN{}, "unsupported DSN"},
		{"postgres:/db", DSN{}, "unsupported DSN"},
		{"host=db user=admin password=hunter2", DSN{}, "unsupported DSN (not a URL; not shown)"},
		{"links.db", DSN{}, "unsupported DSN (not a URL; not shown)"},
	} {
		got, err := Parse(tt.dsn)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.dsn, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Parse(%q) = %+v, %v; want an error containing %q", tt.dsn, got, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("Parse(%q): the error shows the password: %v", tt.dsn, err)
		}
	}
}

func TestParseSentinels(t *testing.T) {
	t.Parallel()
	if _, err := Parse(""); !errors.Is(err, ErrEmpty) {
		t.Errorf("Parse(\"\") = %v, want ErrEmpty", err)
	}
	if _, err := Parse("mysql://db/x"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Parse(mysql) = %v, want ErrUnsupported", err)
	}
}

// FuzzParse: Parse never panics, never shows a password in its error, and
// a DSN it accepts has one dialect and what that dialect needs.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"postgres://u:p@h/d", "sqlite://a.db", "sqlite:", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if u, uerr := url.Parse(s); uerr == nil && u.User != nil {
				creds := u.User.String() + "@"
				if _, hasPassword := u.User.Password(); hasPassword && !strings.Contains(u.Redacted(), creds) && strings.Contains(err.Error(), creds) {
					t.Fatalf("Parse(%q): error shows the password: %v", s, err)
				}
			}
			if !strings.Contains(s, "://") && strings.Contains(s, "password=") && strings.Contains(err.Error(), "password=") {
				t.Fatalf("Parse(%q): error shows a key=value DSN: %v", s, err)
			}
			if d != (DSN{}) {
				t.Fatalf("Parse(%q) failed but returned %+v", s, d)
			}
			return
		}
		switch d.Dialect {
		case Postgres:
			if d.URL != s || d.Path != "" {
				t.Fatalf("Parse(%q) = %+v", s, d)
			}
		case SQLite:
			if d.Path == "" || d.URL != "" || strings.Contains(d.Path, "?") || !strings.HasSuffix(s, d.Path) {
				t.Fatalf("Parse(%q) = %+v", s, d)
			}
		default:
			t.Fatalf("Parse(%q) accepted it without a dialect: %+v", s, d)
		}
	})
}
