package ingest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

// TestFailedWritesAreRetried takes the offsets table away while a
// consumer runs: every batch write fails and is counted, and the records
// are consumed again until the table is back; then the aggregates equal
// the reference exactly (nothing lost, nothing counted twice), and no
// batch was fenced (no other consumer moved the offsets).
func TestFailedWritesAreRetried(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		brokers := cluster(t)
		db := openDB(t, dsn, false)
		rng := rand.New(rand.NewPCG(41, 42))
		evs := aggtest.Events(rng, 2000, aggtest.Links(10), time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), 6*time.Hour, 300)
		half := len(evs) / 2

		// The first half goes through while the database works, so the
		// consumer has its partitions and their offsets.
		ends := produce(t, brokers, clickRecords(t, evs[:half]))
		c, stop := runRetrying(t, brokers, db)
		waitOffsets(t, db, "g", clicksTopic, ends, 60*time.Second)
		if st := c.Stats(); st.Failed != 0 {
			t.Fatalf("%d failed batches before the failure", st.Failed)
		}

		statsdbtest.Exec(t, dsn, "ALTER TABLE stats_offsets RENAME TO stats_offsets_away")
		addEnds(ends, produce(t, brokers, clickRecords(t, evs[half:])))
		testenv.WaitFor(t, "failed batches while the offsets table is gone", 30*time.Second,
			func() bool { return c.Stats().Failed >= 3 })
		statsdbtest.Exec(t, dsn, "ALTER TABLE stats_offsets_away RENAME TO stats_offsets")

		st := finish(t, c, stop, db, dsn, ends, evs)
		if st.Events != int64(len(evs)) || st.Failed < 3 || st.Fenced != 0 {
			t.Errorf("stats %+v, want %d events, 3 or more failed batches, none fenced", st, len(evs))
		}
	})
}

// TestFencedBatchIsDropped plays another consumer of the group that
// counted a partition's next records (it moves the stored offset past
// them) while this one still believes it is at the old offset: this
// consumer's batch with those records is refused whole (fenced), counted
// as such, and it goes on from the stored offset, so the records are
// counted once, by "the other consumer" (here: by nobody, which makes
// them easy to leave out of the reference).
func TestFencedBatchIsDropped(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		brokers := cluster(t)
		db := openDB(t, dsn, false)
		rng := rand.New(rand.NewPCG(51, 52))
		evs := aggtest.Events(rng, 1500, aggtest.Links(10), time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), 3*time.Hour, 200)
		first, taken := evs[:500], evs[500:800] // taken: counted "elsewhere"

		ends := produce(t, brokers, clickRecords(t, first))
		c, stop := runRetrying(t, brokers, db)
		waitOffsets(t, db, "g", clicksTopic, ends, 60*time.Second)

		// The other consumer's write: partition 0 moves past the records
		// that are produced to it next.
		const p = 0
		move := &statsdb.Batch{Group: "g", Offsets: []statsdb.Offset{{Topic: clicksTopic, Partition: p,
			Expected: ends[p], Next: ends[p] + int64(len(taken))}}}
		if err := db.Write(t.Context(), move); err != nil {
			t.Fatal(err)
		}
		recs := clickRecords(t, taken)
		for _, r := range recs {
			r.Partition = p
		}
		ends[p] = produceTo(t, brokers, recs)
		addEnds(ends, produce(t, brokers, clickRecords(t, evs[800:])))

		counted := append(append([]clickevents.Event(nil), first...), evs[800:]...)
		st := finish(t, c, stop, db, dsn, ends, counted)
		if st.Fenced < 1 || st.Failed < st.Fenced || st.Events != int64(len(counted)) {
			t.Errorf("stats %+v, want a fenced batch (among the failed) and %d events counted", st, len(counted))
		}
	})
}

// produceTo writes records to the partitions they name and returns the
// end offset of the last one's partition.
func produceTo(tb testing.TB, brokers []string, recs []*kgo.Record) int64 {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	res := cl.ProduceSync(tb.Context(), recs...)
	if err := res.FirstErr(); err != nil {
		tb.Fatalf("produce: %v", err)
	}
	return res[len(res)-1].Record.Offset + 1
}

// runRetrying starts a consumer of group "g" with small batches and a
// short pause after a failed write, so that failures come and go fast.
func runRetrying(t *testing.T, brokers []string, db *statsdb.DB) (*Consumer, func() error) {
	t.Helper()
	return run(t, Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: linksTopic, Group: "g",
		MaxPollRecords: 200, MaxBatchEvents: 400, Linger: 50 * time.Millisecond,
		RetryBackoff: 20 * time.Millisecond, DB: db, Logger: quiet})
}

// addEnds merges the end offsets of records produced later into ends.
func addEnds(ends, more map[int32]int64) {
	for p, end := range more {
		ends[p] = max(ends[p], end)
	}
}

// finish waits until the consumer has stored ends, stops it, compares the
// database with the reference of counted and returns the consumer's
// figures.
func finish(t *testing.T, c *Consumer, stop func() error, db *statsdb.DB, dsn string, ends map[int32]int64, counted []clickevents.Event) Stats {
	t.Helper()
	waitOffsets(t, db, "g", clicksTopic, ends, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(counted))
	st := c.Stats()
	t.Logf("stats %+v", st)
	return st
}
