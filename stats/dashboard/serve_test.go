package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/dashboard"
	"github.com/shortify/shortify/stats/partitions"
)

// newStatsDB makes an empty, migrated SQLite stats database for the test
// and returns its DSN.
func newStatsDB(t *testing.T) string {
	t.Helper()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	return dsn
}

// statsHandler is the stats API over the stats database at dsn, taking
// the keys of keys and the workspaces and links of dir.
func statsHandler(t *testing.T, dsn string, keys apiauth.KeyLookup, dir api.Directory) http.Handler {
	t.Helper()
	store, err := api.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := api.New(api.Config{}, api.Deps{
		Store:     store,
		Keys:      func(context.Context) apiauth.KeyLookup { return keys },
		Directory: func(context.Context) api.Directory { return dir },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serveDashboard serves the dashboard and the stats API on one loopback
// server, as the front door routes them, and every other path with rest
// (the control plane's API; nil: 404). It returns the server's URL.
func serveDashboard(t *testing.T, stats, rest http.Handler) string {
	t.Helper()
	dash := dashboard.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, api.Prefix):
			stats.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/dashboard"):
			dash.ServeHTTP(w, r)
		case rest != nil:
			rest.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
