package aggregate_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
)

// zipfEvents are n events as BenchmarkIngest (stats/ingest) makes them:
// links by a Zipf law over 100,000 links, two hours, a million visitors.
func zipfEvents(n int) []clickevents.Event {
	rng := rand.New(rand.NewPCG(41, 42))
	zipf := rand.NewZipf(rng, 1.1, 1, 100_000-1)
	evs := aggtest.Events(rng, n, aggtest.Links(1), time.Unix(1_790_000_000, 0), 2*time.Hour, 1_000_000)
	for i := range evs {
		l := int64(zipf.Uint64())
		evs[i].Code = fmt.Sprintf("z%05d", l)
		evs[i].LinkID = 10_000 + l
	}
	return evs
}

// BenchmarkBatchAdd is the consumer's per-event aggregation over a batch
// of 150,000 events of the ingest benchmark's mix (ns/op is per event).
func BenchmarkBatchAdd(b *testing.B) {
	evs := zipfEvents(150_000)
	batch := aggregate.NewBatch()
	i := 0
	for b.Loop() {
		batch.Add(&evs[i])
		i++
		if i == len(evs) {
			b.StopTimer()
			batch.Reset()
			b.StartTimer()
			i = 0
		}
	}
}

// BenchmarkBatchRows is the end of a batch of 150,000 such events: the
// derived rows and every row's sorted dimension lists (ns/op is per
// batch).
func BenchmarkBatchRows(b *testing.B) {
	evs := zipfEvents(150_000)
	batch := aggregate.NewBatch()
	for b.Loop() {
		b.StopTimer()
		batch.Reset()
		for i := range evs {
			batch.Add(&evs[i])
		}
		b.StartTimer()
		batch.Rows()
	}
}
