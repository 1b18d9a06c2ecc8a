package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/partitions"
)

// GET /api/v1/admin/partitions shows the catalogue beside the database:
// what the API created and dropped is recorded, and partitions changed
// behind the catalogue's back are flagged as drift until reconciled.
func TestPartitionsAPICatalogue(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	cat := new(partitions.MemoryCatalogue)
	e := newCataloguedEnv(t, dsn, backends(t)["sqlite"](t), cat)
	ctx := t.Context()
	// July 2026 (past the retention) and November, through the upkeep.
	if _, err := e.m.EnsureAhead(ctx, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), 0); err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, http.MethodPost, "/api/v1/admin/partitions", "application/json", `{"months": 1, "table": "clicks"}`); w.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, http.MethodDelete, "/api/v1/admin/partitions/clicks_y2026m07", "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}

	w := e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", "")
	list := decode[api.PartitionList](t, w)
	got := partitionNames(list.Partitions)
	if list.Drift != 0 {
		t.Errorf("drift %d in %s", list.Drift, w.Body)
	}
	nov := got["clicks_y2026m11"]
	if !nov.InDatabase || nov.Catalogue == nil || nov.Catalogue.State != "created" || !nov.Catalogue.ChangedAt.Equal(e.now) || nov.Drift != "" || nov.SizeBytes <= 0 {
		t.Errorf("clicks_y2026m11 = %+v", nov)
	}
	jul := got["clicks_y2026m07"]
	if jul.InDatabase || jul.Catalogue == nil || jul.Catalogue.State != "dropped" || jul.Drift != "" || jul.PastRetention ||
		!jul.From.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) || jul.EstimatedRows != nil {
		t.Errorf("clicks_y2026m07 = %+v", jul)
	}

	// Behind the catalogue's back: one catalogued partition dropped, one
	// made by hand.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`DROP TABLE clicks_hourly_y2026m07`,
		`CREATE TABLE clicks_y2026m10 PARTITION OF clicks FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-11-01 00:00:00+00')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	list = decode[api.PartitionList](t, e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", ""))
	got = partitionNames(list.Partitions)
	if p := got["clicks_hourly_y2026m07"]; p.Drift != partitions.DriftMissingFromDatabase || p.InDatabase || p.Catalogue == nil || p.Catalogue.State != "created" {
		t.Errorf("dropped by hand: %+v", p)
	}
	if p := got["clicks_y2026m10"]; p.Drift != partitions.DriftMissingFromCatalogue || !p.InDatabase || p.Catalogue != nil {
		t.Errorf("made by hand: %+v", p)
	}
	if list.Drift != 2 {
		t.Errorf("drift %d, want 2", list.Drift)
	}

	// The leader's upkeep catalogues what exists; the missing one stays
	// flagged for the operator.
	rec, err := e.m.Reconcile(ctx, e.now)
	if err != nil || len(rec) != 1 || rec[0].Name != "clicks_y2026m10" {
		t.Fatalf("reconcile: %+v, %v", rec, err)
	}
	list = decode[api.PartitionList](t, e.do(t, http.MethodGet, "/api/v1/admin/partitions", "", ""))
	if p := partitionNames(list.Partitions)["clicks_y2026m10"]; p.Drift != "" || p.Catalogue == nil || p.Catalogue.State != "created" || list.Drift != 1 {
		t.Errorf("after reconcile: %+v, drift %d", p, list.Drift)
	}
}
