package statsdb_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

// TestWriteInParts: with a few rows per statement, a batch's inserts,
// reads and updates take many statements each (as a large batch does with
// the default), and the tables still match the reference.
func TestWriteInParts(t *testing.T) {
	dsn := testenv.Schema(t)
	db := open(t, statsdb.Config{DSN: dsn})
	statsdb.SetPartRows(db, 7)
	rng := rand.New(rand.NewPCG(13, 14))
	start := time.Date(2026, 10, 31, 20, 0, 0, 0, time.UTC)
	evs := aggtest.Events(rng, 3000, aggtest.Links(40), start, 30*time.Hour, 400)
	off := statsdb.NoOffset
	for i := 0; i < len(evs); {
		n := min(1+rng.IntN(900), len(evs)-i)
		next := int64(i + n)
		b := batchOf(evs[i:i+n], off, next)
		b.Clicks = nil
		if err := db.Write(t.Context(), b); err != nil {
			t.Fatalf("Write: %v", err)
		}
		off, i = next, i+n
	}
	statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
}
