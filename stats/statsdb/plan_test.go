package statsdb_test

import (
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/partitions"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

// TestLockRowsPlan: on a fresh partition (no statistics, as in the first
// hours of a month) the write path probes each key through the primary
// key, not the (workspace_id, bucket) index a workspace's top links read:
// through that index each probe walked a workspace's hour and the ingest
// was ten times slower.
func TestLockRowsPlan(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	ctx := t.Context()
	m, err := partitions.Open(ctx, partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := m.EnsureAhead(ctx, now, 0); err != nil {
		t.Fatal(err)
	}
	m.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bucket := now.Truncate(time.Hour)
	if _, err := db.ExecContext(ctx, `INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks, workspace_id)
		SELECT $1, 'z' || i, i, false, 1, 1 + i % 20 FROM generate_series(1, 20000) i`, bucket); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, statsdb.PgSetup); err != nil {
		t.Fatal(err)
	}
	plan := statsdbtest.Plan(t, tx, statsdb.PgLockRows("clicks_hourly"),
		[]string{"z1"}, []time.Time{bucket}, []int64{1}, []bool{false}, []int64{2})
	if !strings.Contains(plan, "_pkey") || strings.Contains(plan, "workspace_id_bucket") {
		t.Errorf("the write path's probes do not take the primary key:\n%s", plan)
	}
}
