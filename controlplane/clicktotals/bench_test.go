package clicktotals_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/controlplane/clicktotals"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	statsapi "github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/partitions"
)

// benchLinks is the number of links, and of rows in each stats table, of
// BenchmarkPassMillion.
const benchLinks = 1_000_000

// BenchmarkPassMillion measures passes on PostgreSQL with a million links
// and a million rows in each of clicks_hourly and clicks_daily (one row
// per link, spread over 30 days, ten workspaces, with the workspaces'
// roll-up rows): the full pass once, then incremental passes that each
// find 1,000 links clicked again in the current hour. Setting up takes a
// minute or two:
//
//	go test -run '^$' -bench PassMillion -benchtime 5x ./controlplane/clicktotals/
func BenchmarkPassMillion(b *testing.B) {
	ctx := context.Background()
	statsDSN, linksDSN := testenv.Schema(b), testenv.Schema(b)
	m, err := partitions.Open(ctx, partitions.Config{DSN: statsDSN, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := m.EnsureAhead(ctx, now.AddDate(0, -2, 0), 4); err != nil {
		b.Fatal(err)
	}
	m.Close()
	links := teststore.Postgres(b, linksDSN)
	exec := func(dsn, sql string, args ...any) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%.80s: %v", sql, err)
		}
	}
	start := time.Now()
	exec(linksDSN, `INSERT INTO links (code, id, url, created_at, workspace_id, domain)
		SELECT 'c' || i, i, 'https://e.example/' || i, now(), 1 + i % 10, '' FROM generate_series(1, $1::int) AS i`, benchLinks)
	exec(linksDSN, `ANALYZE links`)
	exec(statsDSN, `INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id)
		SELECT date_trunc('day', $2::timestamptz - (i % 30) * interval '1 day'), 'c' || i, i, i % 5 = 0, 1 + i % 7, 1 + i % 10
		FROM generate_series(1, $1::int) AS i`, benchLinks, now)
	exec(statsDSN, `INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks, workspace_id)
		SELECT date_trunc('hour', $2::timestamptz - (i % 720) * interval '1 hour'), 'c' || i, i, i % 5 = 0, 1 + i % 7, 1 + i % 10
		FROM generate_series(1, $1::int) AS i`, benchLinks, now)
	exec(statsDSN, `INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks, workspace_id)
		SELECT date_trunc('hour', $1::timestamptz - h * interval '1 hour'), '', 0, false, 1, w
		FROM generate_series(0, 719) AS h, generate_series(0, 10) AS w`, now)
	exec(statsDSN, `ANALYZE clicks_hourly`)
	exec(statsDSN, `ANALYZE clicks_daily`)
	b.Logf("set up %d links and stats rows in %s", benchLinks, time.Since(start).Round(time.Second))

	reader, err := statsapi.OpenTotals(ctx, statsDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer reader.Close()
	clock := now
	job, err := clicktotals.New(&leader.Flag{}, clicktotals.Config{Source: reader, Store: links, Now: func() time.Time { return clock }})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	n, err := job.Pass(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("full pass: %d links updated in %s", n, time.Since(t0).Round(time.Millisecond))
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		// 1,000 links of the current hour get a click more.
		exec(statsDSN, `UPDATE clicks_hourly SET clicks = clicks + 1
			WHERE code = ANY(SELECT 'c' || i FROM generate_series($1::int, $1::int + 720 * 999, 720) AS i) AND bucket = date_trunc('hour', $2::timestamptz)`,
			720*round, now)
		exec(statsDSN, `UPDATE clicks_daily SET clicks = clicks + 1
			WHERE code = ANY(SELECT 'c' || i FROM generate_series($1::int, $1::int + 720 * 999, 720) AS i)`, 720*round)
		clock = clock.Add(30 * time.Second)
		b.StartTimer()
		n, err := job.Pass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "links-updated/pass")
	}
}
