package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/hll"
	"github.com/shortify/shortify/stats/partitions"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends are the two stats databases; every test runs on both.
var backends = []string{"postgres", "sqlite"}

// env is a stats API over a fresh stats database of one backend, with a
// writer connection to put aggregate rows in and keys of every role.
type env struct {
	t      testing.TB
	h      *api.Handler
	store  api.Store
	db     *sql.DB
	dsn    string
	sqlite bool
	// dims says where dimRow puts its counts: dimsTables (the *_dims
	// tables of earlier versions), dimsColumn (the bucket rows' dims
	// column, as the ingest writes them) or dimsMixed (alternately).
	dims    dimsMode
	dimRows int
	keys    *keyRing
	viewer  string
	creator string
	admin   string
}

// now is the clock of every test: within the months whose partitions
// setup creates.
var now = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

// setup makes the schema with stats/partitions (migrations and, on
// PostgreSQL, the partitions of October to December 2026) and the API.
func setup(t testing.TB, backend string) *env {
	t.Helper()
	var dsn string
	e := &env{t: t, keys: &keyRing{recs: map[string]apiauth.KeyRecord{}}}
	switch backend {
	case "postgres":
		dsn = testenv.Schema(t)
	case "sqlite":
		dsn = "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
		e.sqlite = true
	}
	e.dsn = dsn
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnsureAhead(t.Context(), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 2); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if e.sqlite {
		e.db, err = sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite://")+"?_pragma=busy_timeout(10000)")
	} else {
		e.db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	store, err := api.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	e.h, err = api.New(api.Config{Now: func() time.Time { return now }},
		api.Deps{Store: store, Keys: func(context.Context) apiauth.KeyLookup { return e.keys }})
	if err != nil {
		t.Fatal(err)
	}
	e.viewer = e.keys.add(t, apikey.Viewer)
	e.creator = e.keys.add(t, apikey.Creator)
	e.admin = e.keys.add(t, apikey.Admin)
	return e
}

var _ = stdlib.GetDefaultDriver // the "pgx" database/sql driver

var dollar = regexp.MustCompile(`\$([0-9]+)`)

// exec runs a statement written for PostgreSQL on either database.
func (e *env) exec(stmt string, args ...any) {
	e.t.Helper()
	if e.sqlite {
		stmt = dollar.ReplaceAllString(stmt, "?$1")
		for i, a := range args {
			switch v := a.(type) {
			case time.Time:
				args[i] = v.UnixMicro()
			case bool:
				args[i] = 0
				if v {
					args[i] = 1
				}
			}
		}
	}
	if _, err := e.db.ExecContext(e.t.Context(), stmt, args...); err != nil {
		e.t.Fatalf("%s: %v", stmt, err)
	}
}

// sketch is the serialised HyperLogLog sketch of the visitor hashes.
func sketch(t testing.TB, visitors ...uint64) []byte {
	t.Helper()
	s := hll.New()
	for _, v := range visitors {
		s.Add(v)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bucketRow inserts one clicks_hourly (hour) or clicks_daily row.
func (e *env) bucketRow(g api.Granularity, bucket time.Time, code string, linkID int64, bot bool, clicks int64, visitors []byte) {
	e.t.Helper()
	table := "clicks_daily"
	if g == api.Hour {
		table = "clicks_hourly"
	}
	for _, ws := range rowWorkspaces(code) {
		e.exec(`INSERT INTO `+table+` (bucket, code, link_id, bot, clicks, visitors, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (code, bucket, link_id, bot, workspace_id) DO UPDATE SET clicks = excluded.clicks, visitors = excluded.visitors`,
			bucket, code, linkID, bot, clicks, visitors, ws)
	}
}

// rowWorkspaces are the workspace_ids of the rows these helpers write, as
// the ingest writes them: for code "" the roll-up over all links (0) and
// the default workspace's, else the default workspace's.
func rowWorkspaces(code string) []int64 {
	if code == "" {
		return []int64{0, workspace.DefaultID}
	}
	return []int64{workspace.DefaultID}
}

// dimsMode is where dimRow stores dimension counts.
type dimsMode int

const (
	dimsTables dimsMode = iota
	dimsColumn
	dimsMixed
)

// dimsModes are the modes TestTop runs in, by name.
var dimsModes = map[string]dimsMode{"tables": dimsTables, "column": dimsColumn, "mixed": dimsMixed}

// dimRow adds clicks of one dimension value, as a *_dims row or in the
// dims column of the bucket row (made with no clicks if missing; bucketRow
// sets them), as e.dims says.
func (e *env) dimRow(g api.Granularity, bucket time.Time, code string, linkID int64, bot bool, dim, value string, clicks int64) {
	e.t.Helper()
	e.dimRows++
	if e.dims == dimsColumn || (e.dims == dimsMixed && e.dimRows%2 == 0) {
		e.dimColumn(g, bucket, code, linkID, bot, dim, value, clicks)
		return
	}
	table := "clicks_daily_dims"
	if g == api.Hour {
		table = "clicks_hourly_dims"
	}
	for _, ws := range rowWorkspaces(code) {
		e.exec(`INSERT INTO `+table+` (bucket, code, link_id, bot, dimension, value, clicks, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			bucket, code, linkID, bot, dim, value, clicks, ws)
	}
}

// dimColumn adds clicks of a dimension value to a bucket row's dims.
func (e *env) dimColumn(g api.Granularity, bucket time.Time, code string, linkID int64, bot bool, dim, value string, clicks int64) {
	e.t.Helper()
	for _, ws := range rowWorkspaces(code) {
		e.dimColumnOf(g, bucket, code, linkID, bot, dim, value, clicks, ws)
	}
}

// dimColumnOf is dimColumn for the row of workspace_id ws.
func (e *env) dimColumnOf(g api.Granularity, bucket time.Time, code string, linkID int64, bot bool, dim, value string, clicks int64, ws int64) {
	e.t.Helper()
	table := "clicks_daily"
	if g == api.Hour {
		table = "clicks_hourly"
	}
	where, args := `code = $1 AND bucket = $2 AND link_id = $3 AND bot = $4 AND workspace_id = $5`, []any{code, bucket, linkID, bot, ws}
	if e.sqlite {
		args[1], args[3] = bucket.UnixMicro(), map[bool]int{false: 0, true: 1}[bot]
		where = dollar.ReplaceAllString(where, "?$1")
	}
	var stored []byte
	err := e.db.QueryRowContext(e.t.Context(), `SELECT dims FROM `+table+` WHERE `+where, args...).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		e.t.Fatal(err)
	}
	var add aggregate.DimCounts
	for _, d := range aggregate.Dimensions {
		if d.String() == dim {
			add[d] = []aggregate.ValueCount{{Value: value, Clicks: clicks}}
		}
	}
	dims, err := add.MergeBinary(nil, stored)
	if err != nil {
		e.t.Fatal(err)
	}
	e.exec(`INSERT INTO `+table+` (bucket, code, link_id, bot, clicks, dims, workspace_id) VALUES ($1, $2, $3, $4, 0, $5, $6)
		ON CONFLICT (code, bucket, link_id, bot, workspace_id) DO UPDATE SET dims = excluded.dims`, bucket, code, linkID, bot, dims, ws)
}

// checksum sums up every aggregate table, to show that requests change
// nothing.
func (e *env) checksum() string {
	e.t.Helper()
	var out []string
	for _, table := range []string{"clicks", "clicks_hourly", "clicks_daily", "clicks_hourly_dims", "clicks_daily_dims"} {
		var n, sum int64
		col := "clicks"
		if table == "clicks" {
			col = "status"
		}
		err := e.db.QueryRowContext(e.t.Context(), `SELECT COUNT(*), COALESCE(SUM(`+col+`), 0) FROM `+table).Scan(&n, &sum)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, table+":"+itoa(n)+":"+itoa(sum))
	}
	return strings.Join(out, " ")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// get calls the API with a key ("" for none).
func (e *env) get(path, key string) *http.Response {
	e.t.Helper()
	return e.do(http.MethodGet, path, key)
}

func (e *env) do(method, path, key string) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if key != "" {
		r.Header.Set(apiauth.KeyHeader, key)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Result()
}

// getJSON calls the API as a viewer, wants 200 and decodes the answer.
func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	resp := e.get(path, e.viewer)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	reflect.ValueOf(v).Elem().SetZero() // no field of an earlier answer stays
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e.t.Fatalf("GET %s: decode %s: %v", path, body, err)
	}
}

// wantProblem checks that resp is a problem document with status.
func wantProblem(t *testing.T, what string, resp *http.Response, status int) problem.Details {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("%s: Content-Type %q, want %s", what, ct, problem.ContentType)
	}
	var d problem.Details
	if err := json.Unmarshal(body, &d); err != nil || d.Status != resp.StatusCode || d.Detail == "" {
		t.Errorf("%s: not a problem document with a detail: %s", what, body)
	}
	return d
}

// keyRing is a key ring of a few keys (the control plane's Raft one is
// tested in controlplane/).
type keyRing struct{ recs map[string]apiauth.KeyRecord }

func (k *keyRing) LookupKey(id string) (apiauth.KeyRecord, bool) {
	r, ok := k.recs[id]
	return r, ok
}

func (k *keyRing) add(t testing.TB, role apikey.Role) string {
	t.Helper()
	key, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	k.recs[key.ID] = apiauth.KeyRecord{ID: key.ID, Name: string(role), Role: role, Hash: key.Hash, CreatedAt: now}
	return key.Secret
}

func (k *keyRing) revoke(t *testing.T, secret string) {
	t.Helper()
	id, err := apikey.Parse(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := k.recs[id]
	r.Revoked = true
	k.recs[id] = r
}

// at is a time on the test's day.
func at(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }

func mustRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	return httptest.NewRequest(http.MethodGet, path, nil)
}

func serve(e *env, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Result()
}
