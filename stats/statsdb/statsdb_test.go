package statsdb_test

import (
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, cfg statsdb.Config) *statsdb.DB {
	t.Helper()
	cfg.Migrate = true
	cfg.Logger = slog.New(slog.DiscardHandler)
	db, err := statsdb.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// batchOf aggregates events into a batch that advances partition 0 of
// topic "clicks" from expected to next.
func batchOf(evs []clickevents.Event, expected, next int64) *statsdb.Batch {
	agg := aggregate.NewBatch()
	for i := range evs {
		agg.Add(&evs[i])
	}
	rows := agg.Rows()
	return &statsdb.Batch{
		Group:   "g",
		Offsets: []statsdb.Offset{{Topic: "clicks", Partition: 0, Expected: expected, Next: next}},
		Rows:    rows, Clicks: evs,
	}
}

// TestWriteMatchesReference writes random events (spanning a month
// boundary, so two partitions) in batches of random sizes, so that rows
// are created and then added to and their sketches merged, and compares
// every table with the reference.
func TestWriteMatchesReference(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		db := open(t, statsdb.Config{DSN: dsn, RawClicks: true})
		rng := rand.New(rand.NewPCG(11, 12))
		start := time.Date(2026, 10, 30, 20, 0, 0, 0, time.UTC)
		evs := aggtest.Events(rng, 3000, aggtest.Links(12), start, 60*time.Hour, 400)
		off := statsdb.NoOffset
		for i := 0; i < len(evs); {
			n := min(1+rng.IntN(800), len(evs)-i)
			next := int64(i + n)
			if err := db.Write(t.Context(), batchOf(evs[i:i+n], off, next)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			off, i = next, i+n
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
		if n := statsdbtest.Count(t, dsn, "clicks"); n != int64(len(evs)) {
			t.Errorf("%d raw clicks, want %d", n, len(evs))
		}
		variants := map[string]int64{}
		for _, e := range evs {
			variants[e.Code+"/"+smartlink.Choice(e.Choice).String()]++
		}
		if got := statsdbtest.RawVariants(t, dsn); !maps.Equal(got, variants) {
			t.Errorf("raw clicks per variant %v, want %v", got, variants)
		}
		got, err := db.LoadOffsets(t.Context(), "g", "clicks", []int32{0, 1})
		if err != nil || len(got) != 1 || got[0] != int64(len(evs)) {
			t.Errorf("LoadOffsets = %v, %v; want partition 0 at %d", got, err, len(evs))
		}
	})
}

// TestFencing: a batch that starts from an offset other than the stored
// one is refused whole.
func TestFencing(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		db := open(t, statsdb.Config{DSN: dsn})
		rng := rand.New(rand.NewPCG(1, 2))
		evs := aggtest.Events(rng, 200, aggtest.Links(3), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), time.Hour, 50)
		if err := db.Write(t.Context(), batchOf(evs[:100], statsdb.NoOffset, 100)); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string]*statsdb.Batch{
			"stale expected":      batchOf(evs[100:], 40, 200),
			"no row expected":     batchOf(evs[100:], statsdb.NoOffset, 200),
			"other partition ok,": {Group: "g", Offsets: []statsdb.Offset{{Topic: "clicks", Partition: 1, Expected: statsdb.NoOffset, Next: 5}, {Topic: "clicks", Partition: 0, Expected: 7, Next: 9}}},
		} {
			if err := db.Write(t.Context(), b); !errors.Is(err, statsdb.ErrFenced) {
				t.Errorf("%s: err = %v, want ErrFenced", name, err)
			}
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs[:100]))
		got, err := db.LoadOffsets(t.Context(), "g", "clicks", []int32{0, 1})
		if err != nil || len(got) != 1 || got[0] != 100 {
			t.Errorf("offsets after refused batches = %v, %v", got, err)
		}
		if err := db.Write(t.Context(), batchOf(evs[100:], 100, 200)); err != nil {
			t.Fatalf("the right offset: %v", err)
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
	})
}

// TestDeletions removes a deleted link's rows, by ID and by time, keeps
// the roll-up, and keeps everything with KeepDeleted.
func TestDeletions(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		db := open(t, statsdb.Config{DSN: dsn, RawClicks: true})
		at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
		ev := func(code string, id int64) clickevents.Event {
			return clickevents.Event{Time: at, Code: code, LinkID: id, Status: 302, Visitor: 9, UserAgent: "curl/8", Country: "DE"}
		}
		oldID, newID := snowflake.IDAt(at.Add(-time.Hour)), snowflake.IDAt(at.Add(time.Hour))
		evs := []clickevents.Event{ev("gone", 1234), ev("keep", 99), ev("alias", oldID), ev("alias", newID)}
		if err := db.Write(t.Context(), batchOf(evs, statsdb.NoOffset, 4)); err != nil {
			t.Fatal(err)
		}
		del := &statsdb.Batch{Group: "g", Offsets: []statsdb.Offset{{Topic: "links", Partition: 0, Expected: statsdb.NoOffset, Next: 2}},
			Deletions: []statsdb.Deletion{{Code: "gone", LinkID: 1234, At: at}, {Code: "alias", At: at}, {Code: "", At: at}}}
		if err := db.Write(t.Context(), del); err != nil {
			t.Fatal(err)
		}
		// What remains: keep, the alias's new link, and the roll-up of all four.
		want := aggtest.Compute([]clickevents.Event{ev("keep", 99), ev("alias", newID)})
		all := aggtest.Compute(evs)
		for k, v := range all.Clicks {
			if k.Code == "" {
				want.Clicks[k], want.Visitors[k] = v, all.Visitors[k]
			}
		}
		for k, v := range all.Dims {
			if k.Code == "" {
				want.Dims[k] = v
			}
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), want)
		if n := statsdbtest.Count(t, dsn, "clicks"); n != 2 {
			t.Errorf("%d raw clicks left, want 2", n)
		}

		// KeepDeleted: a second database of the same tables keeps them.
		keep := open(t, statsdb.Config{DSN: dsn, KeepDeleted: true})
		del.Offsets[0] = statsdb.Offset{Topic: "links", Partition: 0, Expected: 2, Next: 3}
		del.Deletions = []statsdb.Deletion{{Code: "keep", LinkID: 99, At: at}}
		if err := keep.Write(t.Context(), del); err != nil {
			t.Fatal(err)
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), want)
	})
}

// TestConcurrentWriters: consumers of different partitions write the
// shared roll-up rows at once; no click and no visitor is lost.
func TestConcurrentWriters(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		const writers, batches = 3, 6
		rng := rand.New(rand.NewPCG(5, 5))
		evs := aggtest.Events(rng, writers*batches*300, aggtest.Links(20), time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), 3*time.Hour, 2000)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			db := open(t, statsdb.Config{DSN: dsn})
			wg.Go(func() {
				off := statsdb.NoOffset
				for b := range batches {
					lo := (w*batches + b) * 300
					b := batchOf(evs[lo:lo+300], off, int64(b+1)*300)
					b.Offsets[0].Partition = int32(w)
					if err := db.Write(t.Context(), b); err != nil {
						errs <- err
						return
					}
					off = b.Offsets[0].Next
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
	})
}
