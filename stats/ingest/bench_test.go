package ingest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
)

// benchEvents makes n clicks as the edge would send them in a busy
// period: links by a Zipf law (s = 1.1) over links links (a few hot links,
// a long tail), times spread over the last two hours, a million visitors.
func benchEvents(n, links int) []clickevents.Event {
	rng := rand.New(rand.NewPCG(41, 42))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(links-1))
	now := time.Now().UTC()
	evs := aggtest.Events(rng, n, aggtest.Links(1), now.Add(-2*time.Hour), 2*time.Hour, 1_000_000)
	for i := range evs {
		l := int64(zipf.Uint64())
		evs[i].Code = fmt.Sprintf("z%05d", l)
		evs[i].LinkID = 10_000 + l
		evs[i].Workspace = 1 + l%benchWorkspaces
	}
	return evs
}

// benchWorkspaces is the number of workspaces that benchEvents' links
// belong to, in turn: each event also lands in its workspace's roll-up.
const benchWorkspaces = 20

// BenchmarkIngest measures events/s from the clicks topic into committed
// aggregates for one consumer on PostgreSQL: the events are produced into
// kfake first, then each iteration consumes all of them with a new
// consumer group (so from the start) and stops when the group's offsets
// in the database reach the end. SHORTIFY_BENCH_EVENTS sets the number of
// events (default 1,000,000), SHORTIFY_BENCH_LINKS the links they click
// (default 100,000), SHORTIFY_BENCH_DSN another database (default
// a fresh schema of the test database), SHORTIFY_BENCH_POLL the records
// per batch (default DefaultMaxPollRecords).
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 1x ./stats/ingest/
func BenchmarkIngest(b *testing.B) {
	n, _ := strconv.Atoi(cmp.Or(os.Getenv("SHORTIFY_BENCH_EVENTS"), "1000000"))
	links, _ := strconv.Atoi(cmp.Or(os.Getenv("SHORTIFY_BENCH_LINKS"), "100000"))
	poll, _ := strconv.Atoi(cmp.Or(os.Getenv("SHORTIFY_BENCH_POLL"), strconv.Itoa(DefaultMaxPollRecords)))
	dsn := cmp.Or(os.Getenv("SHORTIFY_BENCH_DSN"), testenv.Schema(b))
	brokers := cluster(b)
	db := openDB(b, dsn, false)
	evs := benchEvents(n, max(links, 2))
	start := time.Now()
	ends := produce(b, brokers, clickRecords(b, evs))
	b.Logf("produced %d events into kfake in %v", n, time.Since(start).Round(time.Millisecond))
	evs = nil

	var rate float64
	for i := 0; b.Loop(); i++ {
		group := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		start := time.Now()
		c, stop := run(b, Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: "-", Group: group,
			MaxPollRecords: poll, DB: db, Logger: quiet,
			ClientOpts: []kgo.Opt{kgo.FetchMaxBytes(64 << 20), kgo.FetchMaxPartitionBytes(16 << 20)}})
		waitOffsets(b, db, group, clicksTopic, ends, 10*time.Minute)
		elapsed := time.Since(start)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		st := c.Stats()
		rate = float64(n) / elapsed.Seconds()
		b.Logf("%d events in %v: %.0f events/s, %d batches (%.0f events each); decoding and aggregating %v (%.2f µs/event), database %v",
			n, elapsed.Round(time.Millisecond), rate, st.Batches, float64(st.Events)/float64(max(st.Batches, 1)),
			st.Aggregating.Round(time.Millisecond), float64(st.Aggregating.Microseconds())/float64(n), st.Writing.Round(time.Millisecond))
	}
	b.ReportMetric(rate, "events/s")
}
