package partitions

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// entryStates maps the catalogue's names to their states.
func entryStates(c Catalogue) map[string]string {
	out := map[string]string{}
	for _, e := range c.Entries() {
		out[e.Name] = e.State
	}
	return out
}

// The upkeep records what it creates and what the retention drops or
// detaches, stamped with the run's time; its first step catalogues what
// already existed.
func TestMaintainRecordsInTheCatalogue(t *testing.T) {
	t.Parallel()
	for _, detach := range []bool{false, true} {
		t.Run(fmt.Sprintf("detach=%v", detach), func(t *testing.T) {
			t.Parallel()
			testMaintainRecords(t, detach)
		})
	}
}

// testMaintainRecords is TestMaintainRecordsInTheCatalogue with one
// retention mode.
func testMaintainRecords(t *testing.T, detach bool) {
	cat := new(MemoryCatalogue)
	m, _ := setup(t, Config{Catalogue: cat})
	ctx := t.Context()
	// Made before there was a catalogue (an older version, or by hand).
	m.cfg.Catalogue = nil
	if _, err := m.EnsureAhead(ctx, month(2026, 1), 0); err != nil {
		t.Fatal(err)
	}
	m.cfg.Catalogue = cat
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	rep, err := m.MaintainWith(ctx, now, Policy{MonthsAhead: 1, Retention: 60 * 24 * time.Hour, Detach: detach})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reconciled) != len(Tables) || len(rep.Created) != 2*len(Tables) || len(rep.Expired.Partitions) != len(Tables) {
		t.Fatalf("detach=%v: reconciled %d, created %d, expired %d", detach, len(rep.Reconciled), len(rep.Created), len(rep.Expired.Partitions))
	}
	want := StateDropped
	if detach {
		want = StateDetached
	}
	states := entryStates(cat)
	if states["clicks_y2026m01"] != want || states["clicks_y2026m06"] != StateCreated || states["clicks_daily_y2026m07"] != StateCreated || len(states) != 3*len(Tables) {
		t.Fatalf("detach=%v: catalogue %v", detach, states)
	}
	for _, e := range cat.Entries() {
		if !e.Changed.Equal(now) || e.From.IsZero() || !e.To.After(e.From) {
			t.Fatalf("entry %+v, want changed at %s with its range", e, now)
		}
	}
	// Nothing drifts, and a second run records nothing new.
	ps, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Drift != "" || p.Managed && p.Catalogue == nil {
			t.Fatalf("detach=%v: %s drift %q, catalogue %+v", detach, p.Name, p.Drift, p.Catalogue)
		}
	}
	if len(ps) != 3*len(Tables) {
		t.Fatalf("listed %d, want the database's and the catalogue's %d", len(ps), 3*len(Tables))
	}
	rep, err = m.MaintainWith(ctx, now.Add(time.Hour), Policy{MonthsAhead: 1, Retention: 60 * 24 * time.Hour, Detach: detach})
	if err != nil || len(rep.Reconciled)+len(rep.Created)+len(rep.Expired.Partitions) != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
}

// failingCatalogue refuses every record, like a cluster without a leader.
type failingCatalogue struct{ MemoryCatalogue }

var errNoLeader = errors.New("no leader")

func (*failingCatalogue) Record(context.Context, time.Time, []CatalogueEntry) error {
	return errNoLeader
}

// A record that fails fails the upkeep (so it is retried soon, and the
// next run's reconciliation catalogues the partitions), but not a request:
// the partition was made, and List shows the drift.
func TestCatalogueFailure(t *testing.T) {
	t.Parallel()
	cat := new(failingCatalogue)
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	m, _ := setup(t, Config{Catalogue: cat, Now: func() time.Time { return now }})
	ctx := t.Context()
	created, err := m.EnsureAhead(ctx, now, 0)
	if !errors.Is(err, errNoLeader) || len(created) != len(Tables) {
		t.Fatalf("EnsureAhead: %d created, %v", len(created), err)
	}
	if created, err := m.Create(ctx, "clicks", 1); err != nil || len(created) != 1 {
		t.Fatalf("Create: %+v, %v", created, err)
	}
	ps, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Drift != DriftMissingFromCatalogue {
			t.Fatalf("%s: drift %q", p.Name, p.Drift)
		}
	}
}
