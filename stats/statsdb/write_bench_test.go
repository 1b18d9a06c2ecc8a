package statsdb_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
)

// BenchmarkWrite is the write path on PostgreSQL alone: a batch of the
// rows of 150,000 events of the ingest benchmark's mix (links by a Zipf
// law over 100,000 links, two hours) written where none of its rows is
// stored (inserts), then a second batch of the same mix and hours (the
// rows of the busier links stored: read, merge, update; the others
// inserted). Each iteration moves to other days, so that its first batch
// inserts again. Reported: ms per batch of each kind and the rows.
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 3x ./stats/statsdb/
func BenchmarkWrite(b *testing.B) {
	db, err := statsdb.Open(b.Context(), statsdb.Config{DSN: testenv.Schema(b), Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	rng := rand.New(rand.NewPCG(41, 42))
	zipf := rand.NewZipf(rng, 1.1, 1, 100_000-1)
	const n = 150_000
	var insert, update time.Duration
	var rows int
	next := int64(0)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1-i)
		var batches [2]*statsdb.Batch
		for j := range batches {
			evs := aggtest.Events(rng, n, aggtest.Links(1), start, 2*time.Hour, 1_000_000)
			for k := range evs {
				l := int64(zipf.Uint64())
				evs[k].Code = fmt.Sprintf("z%05d", l)
				evs[k].LinkID = 10_000 + l
			}
			agg := aggregate.NewBatch()
			for k := range evs {
				agg.Add(&evs[k])
			}
			expected := next
			if next == 0 {
				expected = statsdb.NoOffset
			}
			next += n
			batches[j] = &statsdb.Batch{Group: "g", Offsets: []statsdb.Offset{{Topic: "clicks", Partition: 0, Expected: expected, Next: next}}, Rows: agg.Rows()}
		}
		rows += len(batches[0].Rows)
		b.StartTimer()
		for j, batch := range batches {
			t0 := time.Now()
			if err := db.Write(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			if j == 0 {
				insert += time.Since(t0)
			} else {
				update += time.Since(t0)
			}
		}
	}
	b.ReportMetric(float64(insert.Milliseconds())/float64(b.N), "ms/insert-batch")
	b.ReportMetric(float64(update.Milliseconds())/float64(b.N), "ms/update-batch")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/batch")
}
