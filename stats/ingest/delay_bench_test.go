package ingest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/api"
)

// BenchmarkDelay measures the end-to-end delay from redirect to visible
// count: clicks go out as the edge sends them (a clickevents.Emitter with
// its default settings, into kfake) at a steady background rate while one
// consumer with the default batch bounds (DefaultLinger,
// DefaultMaxBatchEvents) ingests them into PostgreSQL; a few times a
// second a probe click of a link of its own is emitted, and the stats API's
// store (api.Store, as the stats routes read it) is asked every few
// milliseconds whether the probe's link has its click yet. The delay of a
// probe is from its Emit to the first read that sees it; p50 and p99 are
// reported. SHORTIFY_BENCH_RATE sets the background clicks per second
// (default 10,000, over 100,000 links by a Zipf law),
// SHORTIFY_BENCH_PROBES the number of probes (default 30).
//
//	go test -run '^$' -bench BenchmarkDelay -benchtime 1x ./stats/ingest/
func BenchmarkDelay(b *testing.B) {
	rate, _ := strconv.Atoi(cmp.Or(os.Getenv("SHORTIFY_BENCH_RATE"), "10000"))
	probes, _ := strconv.Atoi(cmp.Or(os.Getenv("SHORTIFY_BENCH_PROBES"), "30"))
	dsn := cmp.Or(os.Getenv("SHORTIFY_BENCH_DSN"), testenv.Schema(b))
	brokers := cluster(b)
	db := openDB(b, dsn, false)
	store, err := api.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	em, err := clickevents.NewEmitter(clickevents.Config{Brokers: brokers, Topic: clicksTopic, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { em.Close(context.Background()) })
	templates := benchEvents(50_000, 100_000) // background clicks, their times set when sent

	var delays []time.Duration
	for i := 0; b.Loop(); i++ {
		group := fmt.Sprintf("delay-%d-%d", time.Now().UnixNano(), i)
		c, stop := run(b, Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: "-", Group: group, DB: db, Logger: quiet})
		ctx, cancel := context.WithCancel(b.Context())
		// The background load, in steps of 10 ms.
		loadDone := make(chan struct{})
		go func() {
			defer close(loadDone)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			j := 0
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				now := time.Now()
				for range max(rate/100, 1) {
					ev := templates[j%len(templates)]
					ev.Time = now
					em.Emit(&ev)
					j++
				}
			}
		}()
		// A warm-up probe (the group joins, the partitions are assigned),
		// then the measured ones.
		if _, err := probe(ctx, em, store, fmt.Sprintf("w%d", i), 1_000_000+int64(i), time.Minute); err != nil {
			b.Fatal(err)
		}
		// One probe at a time (so that the reads are few beside the
		// load), a random pause of up to 250 ms between two.
		for p := range probes {
			d, err := probe(ctx, em, store, fmt.Sprintf("p%dx%d", i, p), 2_000_000+int64(i*probes+p), time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			delays = append(delays, d)
			pause := time.NewTimer(time.Duration(rand.Int64N(int64(250 * time.Millisecond))))
			<-pause.C
		}
		cancel()
		<-loadDone
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		st, es := c.Stats(), em.Stats()
		b.Logf("%d clicks/s in the background: %d events in %d batches (aggregating %v, writing %v), %d dropped by the emitter",
			rate, st.Events, st.Batches, st.Aggregating.Round(time.Millisecond), st.Writing.Round(time.Millisecond), es.Dropped)
	}
	slices.Sort(delays)
	pct := func(p float64) time.Duration { return delays[min(len(delays)-1, int(p*float64(len(delays))))] }
	b.Logf("redirect to visible count over %d probes: p50 %v, p99 %v, max %v (linger %v)",
		len(delays), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond),
		delays[len(delays)-1].Round(time.Millisecond), DefaultLinger)
	b.ReportMetric(float64(pct(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(pct(0.99).Milliseconds()), "p99-ms")
}

// probe emits one click of link (code, linkID) and returns how long it
// took until the store's hourly series of the link counts it.
func probe(ctx context.Context, em *clickevents.Emitter, store api.Store, code string, linkID int64, timeout time.Duration) (time.Duration, error) {
	ev := clickevents.Event{Code: code, LinkID: linkID, Status: 302, Visitor: rand.Uint64() | 1, Country: "DE",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	ev.Time = time.Now()
	sent := ev.Time
	hour := sent.UTC().Truncate(time.Hour)
	if !em.Emit(&ev) {
		return 0, fmt.Errorf("probe %s: the emitter dropped it", code)
	}
	// Reads every 10 ms: the delay's resolution.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		rows, err := store.Buckets(ctx, api.Hour, code, linkID, hour, hour.Add(time.Hour))
		if err != nil {
			return 0, fmt.Errorf("probe %s: %w", code, err)
		}
		if len(rows) > 0 && rows[0].Clicks > 0 {
			return time.Since(sent), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-deadline.C:
			return 0, fmt.Errorf("probe %s: not visible after %v", code, timeout)
		case <-tick.C:
		}
	}
}
