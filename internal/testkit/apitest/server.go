package apitest

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	statsapi "github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/partitions"
)

// StatsNow is the statistics API's clock in a Server: the clicks a test
// writes with Click are on its day.
var StatsNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

// Server is the control plane's REST API over a real link store, with
// the registries on a real FSM (Registry), and the statistics API on a
// SQLite statistics database, behind one loopback HTTP server routed as
// the front door routes them: what a program using the APIs (the CLI)
// is tested against.
type Server struct {
	// URL is the server's base URL.
	URL string
	// Admin is an instance admin's API key.
	Admin string
	// Registry holds keys, workspaces and domains: mint keys with it.
	Registry *Registry
	stats    *sql.DB
}

// Serve starts a Server on links (teststore.SQLite or
// teststore.Postgres); the server stops when the test ends. Short URLs
// are on http://sho.test.
func Serve(t testing.TB, links linkstore.Store) *Server { return ServeWith(t, links, nil) }

// ServeWith is Serve with more of the API's dependencies (an audit log,
// a webhook store): more, when not nil, fills them in after the
// registries, the store and the issuer are set.
func ServeWith(t testing.TB, links linkstore.Store, more func(*api.Deps)) *Server {
	t.Helper()
	reg := NewRegistry()
	d := reg.Deps(api.Deps{Store: links, Issuer: NewIssuer(t)})
	d.Blocklist = reg
	if more != nil {
		more(&d)
	}
	cp, err := api.New(api.Config{PublicURL: "http://sho.test", Logger: slog.New(slog.DiscardHandler)}, d)
	if err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	ctx := context.Background()
	m, err := partitions.Open(ctx, partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	store, err := statsapi.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	st, err := statsapi.New(statsapi.Config{Now: func() time.Time { return StatsNow }, Logger: slog.New(slog.DiscardHandler)},
		statsapi.Deps{Store: store, Keys: func(context.Context) apiauth.KeyLookup { return reg }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite://")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/stats/") {
			st.ServeHTTP(w, r)
			return
		}
		cp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Admin: reg.Mint(t, apikey.Admin, 0), Registry: reg, stats: db}
}

// Click adds a day's (StatsNow's) clicks of a link in workspace ws as
// the ingest aggregates them: the link's row and the roll-ups over all
// links (code "": the instance's, workspace 0, and the workspace's).
func (s *Server) Click(t testing.TB, ws int64, code, linkID string, clicks int64) {
	t.Helper()
	s.ClickOn(t, StatsNow, ws, code, linkID, clicks)
}

// ClickOn is Click on the UTC day of at.
func (s *Server) ClickOn(t testing.TB, at time.Time, ws int64, code, linkID string, clicks int64) {
	t.Helper()
	day := at.UTC().Truncate(24 * time.Hour)
	for _, row := range []struct {
		code, linkID string
		ws           int64
	}{{code, linkID, ws}, {"", "0", 0}, {"", "0", ws}} {
		if _, err := s.stats.ExecContext(context.Background(),
			`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, visitors, workspace_id) VALUES (?1, ?2, ?3, 0, ?4, NULL, ?5)
			 ON CONFLICT (code, bucket, link_id, bot, workspace_id) DO UPDATE SET clicks = clicks_daily.clicks + excluded.clicks`,
			day.UnixMicro(), row.code, row.linkID, clicks, row.ws); err != nil {
			t.Fatal(err)
		}
	}
}

// ClickDim adds a day's (StatsNow's) clicks of a link in workspace ws
// with one value of a dimension (country "DE", device "mobile"), as the
// ingest keeps them for the rankings.
func (s *Server) ClickDim(t testing.TB, ws int64, code, linkID, dimension, value string, clicks int64) {
	t.Helper()
	day := StatsNow.Truncate(24 * time.Hour)
	if _, err := s.stats.ExecContext(context.Background(),
		`INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks, workspace_id) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)
		 ON CONFLICT (code, bucket, link_id, bot, dimension, value, workspace_id) DO UPDATE SET clicks = clicks_daily_dims.clicks + excluded.clicks`,
		day.UnixMicro(), code, linkID, dimension, value, clicks, ws); err != nil {
		t.Fatal(err)
	}
}
