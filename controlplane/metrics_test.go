package controlplane

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMetrics drives a one-node control plane on PostgreSQL through its
// API and reads the metrics from the config's registry: creates by kind
// and outcome, the Raft gauges, grants, commit latency, the partition
// upkeep and the cleanup. A reload keeps the counts.
func TestMetrics(t *testing.T) {
	key := newKey(t)
	dataDir := t.TempDir()
	newApp := func() *App {
		return &App{
			DataDir:         dataDir,
			RaftBind:        testenv.FreeAddr(t),
			InitialAPIKey:   key.Secret,
			Database:        testenv.Schema(t),
			StatsDatabase:   testenv.Schema(t),
			CleanupInterval: caddy.Duration(20 * time.Millisecond),
			PublicURL:       "https://sho.rt",
		}
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := newApp()
	caddytest.StartApp(t, ctx, a)
	stopped := false
	defer func() {
		if !stopped {
			_ = a.Stop()
		}
	}()
	reg := ctx.GetMetricsRegistry()

	// The leader's first upkeep and cleanup runs start with its
	// leadership; wait for them so that the counts below are settled.
	testenv.WaitFor(t, "a partition upkeep run and a cleanup run", 30*time.Second, func() bool {
		got := promtest.Samples(t, reg, "shortify_cp_")
		return got["shortify_cp_partition_upkeep_runs_total{}"] >= 1 && got["shortify_cp_cleanup_runs_total{}"] >= 1
	})
	before := promtest.Samples(t, reg, "shortify_cp_")

	post := func(path, body string, want int) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(api.KeyHeader, key.Secret)
		w := httptest.NewRecorder()
		a.handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Fatalf("POST %s %s: %d %s, want %d", path, body, w.Code, w.Body, want)
		}
	}
	alias := "metrics-alias" // the link database is the test's own schema
	post("/api/v1/links", `{"url":"https://example.com/a"}`, 201)
	post("/api/v1/links", `{"url":"https://example.com/b","alias":"`+alias+`"}`, 201)
	post("/api/v1/links", `{"url":"https://example.com/c","alias":"`+alias+`"}`, 409)
	post("/api/v1/links", `{"url":"ftp://example.com/d"}`, 400)
	post("/api/v1/links", `{"url":`, 400)
	post("/api/v1/links/bulk", `{"links":[{"url":"https://example.com/e"},{"url":"https://example.com/f"},`+
		`{"url":"https://example.com/g","alias":"`+alias+`"},{"url":""}]}`, 200)
	post("/api/v1/links/bulk", `{"links":[]}`, 400)

	// An expired link for the cleanup to delete.
	l := storetest.NewLink()
	l.ExpiresAt = time.Now().Add(-time.Minute)
	if err := a.svc.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the cleanup to delete the expired link", 30*time.Second, func() bool {
		return promtest.Samples(t, reg, "shortify_cp_")["shortify_cp_cleanup_deleted_total{}"] == before["shortify_cp_cleanup_deleted_total{}"]+1
	})

	got := promtest.Samples(t, reg, "shortify_cp_")
	delta := map[string]float64{
		"shortify_cp_link_creates_total{kind=single,outcome=created}":  2,
		"shortify_cp_link_creates_total{kind=single,outcome=conflict}": 1,
		"shortify_cp_link_creates_total{kind=single,outcome=invalid}":  2,
		"shortify_cp_link_creates_total{kind=single,outcome=error}":    0,
		"shortify_cp_link_creates_total{kind=bulk,outcome=created}":    2,
		"shortify_cp_link_creates_total{kind=bulk,outcome=conflict}":   1,
		"shortify_cp_link_creates_total{kind=bulk,outcome=invalid}":    2,
		"shortify_cp_link_creates_total{kind=bulk,outcome=error}":      0,
		"shortify_cp_cleanup_deleted_total{}":                          1,
		"shortify_cp_cleanup_failures_total{}":                         0,
		"shortify_cp_partition_upkeep_failures_total{}":                0,
		"shortify_cp_grant_errors_total{kind=worker_id}":               0,
		"shortify_cp_grants_total{kind=worker_id}":                     0, // the one lease, taken at start
	}
	for k, d := range delta {
		g, ok := got[k]
		if !ok || g-before[k] != d {
			t.Errorf("%s went from %v to %v (present %v), want +%v", k, before[k], g, ok, d)
		}
	}
	exact := map[string]float64{
		"shortify_cp_raft_leader{}":                     1,
		"shortify_cp_raft_state{state=leader}":          1,
		"shortify_cp_raft_state{state=follower}":        0,
		"shortify_cp_raft_state{state=candidate}":       0,
		"shortify_cp_raft_state{state=shutdown}":        0,
		"shortify_cp_raft_voters{}":                     1,
		"shortify_cp_raft_nonvoters{}":                  0,
		"shortify_cp_grants_total{kind=worker_id}":      1,
		"shortify_cp_partition_upkeep_runs_total{}":     before["shortify_cp_partition_upkeep_runs_total{}"],
		"shortify_cp_partition_upkeep_failures_total{}": 0,
	}
	for k, v := range exact {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	st := a.svc.node.State()
	if got["shortify_cp_raft_term{}"] != float64(st.Term) || st.Term < 1 {
		t.Errorf("term %v, node says %d", got["shortify_cp_raft_term{}"], st.Term)
	}
	// The lease, the first block and the node's registration went through
	// Raft on this leader: each a commit, each an applied index.
	applied, last := got["shortify_cp_raft_applied_index{}"], got["shortify_cp_raft_last_index{}"]
	if applied < 3 || last < applied || got["shortify_cp_raft_commit_index{}"] < applied {
		t.Errorf("indexes: applied %v, commit %v, last %v", applied, got["shortify_cp_raft_commit_index{}"], last)
	}
	if got["shortify_cp_raft_commit_duration_seconds_count{}"] < 3 || got["shortify_cp_grants_total{kind=sequence_block}"] < 1 {
		t.Errorf("commits %v, sequence blocks %v", got["shortify_cp_raft_commit_duration_seconds_count{}"],
			got["shortify_cp_grants_total{kind=sequence_block}"])
	}

	// A reload: the new config's registry gathers the same service, with
	// its counts; the old one's no longer does.
	ctx2, cancel2 := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel2()
	a2 := newApp()
	a2.RaftBind, a2.Database, a2.StatsDatabase = a.RaftBind, a.Database, a.StatsDatabase
	caddytest.StartApp(t, ctx2, a2)
	defer a2.Stop()
	stopped = true
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	got2 := promtest.Samples(t, ctx2.GetMetricsRegistry(), "shortify_cp_")
	for _, k := range []string{"shortify_cp_link_creates_total{kind=single,outcome=created}", "shortify_cp_link_creates_total{kind=bulk,outcome=created}"} {
		if got2[k] != got[k] {
			t.Errorf("after the reload %s = %v, want %v", k, got2[k], got[k])
		}
	}
	if old := promtest.Samples(t, reg, "shortify_cp_"); len(old) != 0 {
		t.Errorf("the stopped config's registry still has %v", slices.Sorted(maps.Keys(old)))
	}
}
