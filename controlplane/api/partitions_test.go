package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/stats/partitions"
)

// partitionsEnv is an API over a link store and a partition manager on a
// PostgreSQL schema of the test's own (partition DDL is per schema).
type partitionsEnv struct {
	*env
	m   *partitions.Manager
	now time.Time
}

func newPartitionsEnv(t *testing.T, dsn string, store linkstore.Store) *partitionsEnv {
	t.Helper()
	return newCataloguedEnv(t, dsn, store, nil)
}

// newCataloguedEnv is newPartitionsEnv with a partition catalogue (nil:
// none).
func newCataloguedEnv(t *testing.T, dsn string, store linkstore.Store, cat partitions.Catalogue) *partitionsEnv {
	t.Helper()
	pe := &partitionsEnv{now: time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)}
	m, err := partitions.Open(t.Context(), partitions.Config{
		DSN:       dsn,
		Migrate:   true,
		Retention: 90 * 24 * time.Hour, // cutoff 12 August 2026
		Now:       func() time.Time { return pe.now },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Catalogue: cat,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	pe.m = m
	pe.env = &env{store: store, issuer: newIssuer(t, 1)}
	h, err := newAPI(t, api.Config{Now: func() time.Time { return pe.now }}, api.Deps{Store: store, Issuer: pe.env.issuer, Partitions: m})
	if err != nil {
		t.Fatal(err)
	}
	pe.h = h
	return pe
}

func partitionNames(ps []api.Partition) map[string]api.Partition {
	out := make(map[string]api.Partition, len(ps))
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

func TestPartitionsAPI(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	store := teststore.Postgres(t, dsn)
	e := newPartitionsEnv(t, dsn, store)
	// July 2026, past the retention, exists from earlier upkeep.
	if _, err := e.m.EnsureAhead(t.Context(), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 0); err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		w := e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", "")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		got := partitionNames(decode[api.PartitionList](t, w).Partitions)
		p3, ok := got["links_p03"]
		if !ok || p3.Table != "links" || p3.Strategy != "hash" || p3.Modulus == nil || *p3.Modulus != 16 || p3.Remainder == nil || *p3.Remainder != 3 || p3.Managed {
			t.Errorf("links_p03 = %+v", p3)
		}
		jul, ok := got["clicks_y2026m07"]
		if !ok || jul.Strategy != "range" || !jul.Managed || !jul.PastRetention ||
			!jul.From.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) || !jul.To.Equal(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)) ||
			jul.Modulus != nil || jul.SizeBytes <= 0 {
			t.Errorf("clicks_y2026m07 = %+v", jul)
		}
		if len(got) != 16+len(partitions.Tables) {
			t.Errorf("listed %d partitions, want %d", len(got), 16+len(partitions.Tables))
		}
		// Estimated rows are null until analysed, then numbers.
		if !strings.Contains(w.Body.String(), `"estimated_rows":null`) {
			t.Errorf("no null estimate in %s", w.Body)
		}
	})

	t.Run("create", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/api/v1/admin/partitions", "application/json", `{"months": 2}`)
		if w.Code != http.StatusCreated {
			t.Fatalf("POST: %d %s", w.Code, w.Body)
		}
		created := decode[api.CreatedPartitions](t, w).Created
		if len(created) != 3*len(partitions.Tables) {
			t.Errorf("created %d partitions, want %d", len(created), 3*len(partitions.Tables))
		}
		if _, ok := partitionNames(created)["clicks_daily_dims_y2027m01"]; !ok {
			t.Errorf("created %+v, want clicks_daily_dims_y2027m01 among them", created)
		}
		// Again: nothing new.
		w = e.do(t, http.MethodPost, "/api/v1/admin/partitions", "application/json; charset=utf-8", `{"months": 2}`)
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"created":[]}` {
			t.Errorf("second POST: %d %s", w.Code, w.Body)
		}
		// One table, one more month.
		w = e.do(t, http.MethodPost, "/api/v1/admin/partitions", "application/json", `{"months": 3, "table": "clicks"}`)
		if c := decode[api.CreatedPartitions](t, w).Created; w.Code != http.StatusCreated || len(c) != 1 || c[0].Name != "clicks_y2027m02" || c[0].SizeBytes <= 0 {
			t.Errorf("POST clicks, 3 months: %d %s", w.Code, w.Body)
		}
	})

	t.Run("bad create", func(t *testing.T) {
		for _, tt := range []struct {
			name, contentType, body string
			status                  int
			field                   string
		}{
			{"empty", "application/json", ``, 400, ""},
			{"no months", "application/json", `{}`, 400, "months"},
			{"zero", "application/json", `{"months": 0}`, 400, "months"},
			{"negative", "application/json", `{"months": -1}`, 400, "months"},
			{"too many", "application/json", `{"months": 25}`, 400, "months"},
			{"string", "application/json", `{"months": "3"}`, 400, "months"},
			{"fraction", "application/json", `{"months": 1.5}`, 400, "months"},
			{"unknown field", "application/json", `{"months": 1, "days": 3}`, 400, "days"},
			{"unknown table", "application/json", `{"months": 1, "table": "links"}`, 400, "table"},
			{"two objects", "application/json", `{"months": 1}{"months": 2}`, 400, ""},
			{"not JSON", "application/json", `months=1`, 400, ""},
			{"form", "application/x-www-form-urlencoded", `months=1`, 415, ""},
			{"huge", "application/json", `{"table":"` + strings.Repeat("a", 70<<10) + `","months":1}`, 413, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.list(t))
				w := e.do(t, http.MethodPost, "/api/v1/admin/partitions", tt.contentType, tt.body)
				p := wantProblem(t, w, tt.status, "")
				if p.Field != tt.field {
					t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
				}
				if after := len(e.list(t)); after != before {
					t.Errorf("a refused request changed the partitions: %d, then %d", before, after)
				}
			})
		}
	})

	t.Run("drop", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			status int
			detail string
		}{
			{"clicks_y2026m11", 409, "after the retention cutoff"},
			{"links_p00", 409, "not one of the managed tables"},
			{"clicks_y2020m01", 404, "no partition"},
			{"links", 404, "no partition"},
			{"1abc", 400, "partition name"},
			{"a-b", 400, "partition name"},
			{"a%20b", 400, "partition name"},
			{strings.Repeat("a", 64), 400, "partition name"},
		} {
			w := e.do(t, http.MethodDelete, "/api/v1/admin/partitions/"+tt.name, "", "")
			wantProblem(t, w, tt.status, tt.detail)
		}
		w := e.do(t, http.MethodDelete, "/api/v1/admin/partitions/clicks_y2026m07", "", "")
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Fatalf("DELETE past retention: %d %s", w.Code, w.Body)
		}
		if _, ok := partitionNames(e.list(t))["clicks_y2026m07"]; ok {
			t.Error("clicks_y2026m07 is still listed")
		}
		wantProblem(t, e.do(t, http.MethodDelete, "/api/v1/admin/partitions/clicks_y2026m07", "", ""), 404, "no partition")
	})

	t.Run("methods", func(t *testing.T) {
		w := e.do(t, http.MethodPut, "/api/v1/admin/partitions", "application/json", `{}`)
		wantProblem(t, w, http.StatusMethodNotAllowed, "")
		if got := w.Header().Get("Allow"); got != "GET, POST" {
			t.Errorf("Allow %q, want GET, POST", got)
		}
		w = e.do(t, http.MethodGet, "/api/v1/admin/partitions/clicks_y2026m11", "", "")
		wantProblem(t, w, http.StatusMethodNotAllowed, "")
		if got := w.Header().Get("Allow"); got != "DELETE" {
			t.Errorf("Allow %q, want DELETE", got)
		}
	})
}

func (e *partitionsEnv) list(t *testing.T) []api.Partition {
	t.Helper()
	w := e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	return decode[api.PartitionList](t, w).Partitions
}

func TestPartitionsAPIOnSQLite(t *testing.T) {
	t.Parallel()
	store := backends(t)["sqlite"](t)
	e := newPartitionsEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "stats.db"), store)
	w := e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"partitions":[],"drift":0}` {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
	wantProblem(t, e.do(t, http.MethodPost, "/api/v1/admin/partitions", "application/json", `{"months": 1}`), 409, "SQLite")
	wantProblem(t, e.do(t, http.MethodDelete, "/api/v1/admin/partitions/clicks_y2026m01", "", ""), 404, "no partition")
}

func TestPartitionsAPIWithoutManager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends(t)["sqlite"](t), api.Config{})
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/admin/partitions", ""},
		{http.MethodPost, "/api/v1/admin/partitions", `{"months": 1}`},
		{http.MethodDelete, "/api/v1/admin/partitions/clicks_y2026m01", ""},
	} {
		wantProblem(t, e.do(t, r.method, r.path, "application/json", r.body), http.StatusServiceUnavailable, "not available")
	}
}
