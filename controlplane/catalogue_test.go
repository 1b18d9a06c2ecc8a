package controlplane

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/partitions"
)

// TestServicePartitionCatalogue: a one-node control plane's leader
// catalogues in the Raft state the partitions its upkeep creates, and
// those it finds already there (made by hand before it started).
func TestServicePartitionCatalogue(t *testing.T) {
	stats := testenv.Schema(t)
	// A partition made by hand, after the stats schema exists.
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: stats, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	conn, err := pgx.Connect(t.Context(), stats)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), `CREATE TABLE clicks_y2020m01 PARTITION OF clicks FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	key := newKey(t)
	a := &App{
		DataDir:              t.TempDir(),
		RaftBind:             testenv.FreeAddr(t),
		InitialAPIKey:        key.Secret,
		StatsDatabase:        stats,
		PartitionMonthsAhead: 1,
		PartitionRetention:   caddy.Duration(100 * 365 * 24 * time.Hour),
	}
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	svc := openTestService(t, a)
	defer svc.Destruct()

	now := time.Now().UTC()
	want := []string{"clicks_y2020m01",
		partitions.PartitionName("clicks", partitions.MonthStart(now)),
		partitions.PartitionName("clicks_daily", partitions.AddMonths(now, 1)),
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		got := map[string]fsm.PartitionRecord{}
		for _, r := range svc.node.PartitionCatalogue() {
			got[r.Name] = r
		}
		missing := ""
		for _, n := range want {
			if r, ok := got[n]; !ok || r.State != fsm.PartitionCreated {
				missing = n
			}
		}
		if missing == "" && len(got) == 1+2*len(partitions.Tables) {
			if r := got["clicks_y2020m01"]; r.FromMs != time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() || r.Table != "clicks" {
				t.Fatalf("reconciled record %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalogue %v: %s missing, want %d entries", got, missing, 1+2*len(partitions.Tables))
		}
	}
}
