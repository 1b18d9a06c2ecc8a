package backend

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestOpen(t *testing.T) {
	pg := testenv.Database(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     string
		want    string // the store's type, or "" for an error
		wantErr string // a part of the error
	}{
		{"postgres", pg, "*pgstore.Store", ""},
		{"postgresql", "postgresql://" + strings.TrimPrefix(pg, "postgres://"), "*pgstore.Store", ""},
		{"sqlite://", "sqlite://" + filepath.Join(dir, "a.db"), "*sqlitestore.Store", ""},
		{"sqlite:", "sqlite:" + filepath.Join(dir, "b", "b.db"), "*sqlitestore.Store", ""},
		{"empty", "", "", "no DSN"},
		{"mysql", "mysql://admin:hunter2@db.example/links", "", `unsupported DSN "mysql://admin:xxxxx@db.example/links"`},
		{"key=value", "host=db.example user=admin password=hunter2", "", "unsupported DSN (not a URL; not shown)"},
		{"no scheme", "links.db", "", "unsupported DSN (not a URL; not shown)"},
		{"upper-case scheme", "POSTGRES://admin:hunter2@db.example/links", "", "unsupported DSN"},
		{"sqlite without path", "sqlite://", "", "no file path"},
		{"sqlite memory", "sqlite://:memory:", "", "want the path of a file"},
		{"postgres unreachable", "postgres://admin:hunter2@127.0.0.1:1/links?connect_timeout=2", "", "pgstore: ping primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), linkstore.Config{DSN: tt.dsn, Migrate: true})
			if tt.want == "" {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q) succeeded, want an error", tt.dsn)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var got string
			switch s.(type) {
			case *pgstore.Store:
				got = "*pgstore.Store"
			case *sqlitestore.Store:
				got = "*sqlitestore.Store"
			}
			if got != tt.want {
				t.Errorf("Open(%q) = %T, want %s", tt.dsn, s, tt.want)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}
