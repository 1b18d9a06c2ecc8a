package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
)

// measureStats writes a day of click events (links drawn Zipf(1.1), the
// test mix of user agents, referrers and countries) through the stats
// write path, raw clicks kept, and prints the disk per row of each table
// and the rows per event.
func measureStats(ctx context.Context, o options) error {
	d, err := newDatabase(ctx, o.admin)
	if err != nil {
		return err
	}
	defer d.drop()
	db, err := statsdb.Open(ctx, statsdb.Config{DSN: d.dsn, Migrate: true, RawClicks: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer db.Close()

	rng := rand.New(rand.NewPCG(19, 2026))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(o.aggLinks-1))
	links := aggtest.Links(o.aggLinks)
	day := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	const batch = 100_000
	begin := time.Now()
	next := int64(0)
	for written := 0; written < o.events; written += batch {
		n := min(batch, o.events-written)
		// Each batch is a slice of the day, as the consumer's batches are.
		from := day.Add(time.Duration(written) * 24 * time.Hour / time.Duration(o.events))
		span := time.Duration(n) * 24 * time.Hour / time.Duration(o.events)
		evs := aggtest.Events(rng, n, links, from, span, 10*o.events)
		agg := aggregate.NewBatch()
		for k := range evs {
			l := links[zipf.Uint64()]
			evs[k].Code, evs[k].LinkID, evs[k].Workspace = l.Code, l.ID, l.Workspace
			agg.Add(&evs[k])
		}
		expected := next
		if next == 0 {
			expected = statsdb.NoOffset
		}
		next += int64(n)
		b := &statsdb.Batch{Group: "sizing", Offsets: []statsdb.Offset{{Topic: "clicks", Partition: 0, Expected: expected, Next: next}},
			Rows: agg.Rows(), Clicks: evs}
		if err := db.Write(ctx, b); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	fmt.Printf("stats: %d events over %d links (Zipf 1.1) in one day written in %s\n", o.events, o.aggLinks, time.Since(begin).Round(time.Millisecond))

	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	for _, table := range []string{"clicks", "clicks_hourly", "clicks_daily"} {
		var rows, links int64
		err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT link_id) FROM `+table+` WHERE code <> ''`).Scan(&rows, &links)
		if err != nil {
			return fmt.Errorf("count %s: %w", table, err)
		}
		var all int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&all); err != nil {
			return err
		}
		heap, indexes, err := relationSizes(ctx, conn, table)
		if err != nil {
			return err
		}
		printSizes("stats "+table, all, heap, indexes)
		fmt.Printf("stats %s: %d rows of %d links (%.3f rows an event)\n", table, rows, links, float64(rows)/float64(o.events))
	}
	var visitors, dims float64
	if err := conn.QueryRow(ctx, `SELECT avg(octet_length(visitors)), avg(octet_length(dims)) FROM clicks_hourly WHERE code <> ''`).Scan(&visitors, &dims); err != nil {
		return err
	}
	fmt.Printf("stats clicks_hourly: a link's row holds on average %.0f B of visitor sketch and %.0f B of dimension counts\n", visitors, dims)
	return nil
}
