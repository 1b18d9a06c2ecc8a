package ingest

import (
	"context"
	"errors"
	"github.com/shortify/shortify/internal/linkstore"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	clicksTopic = "clicks"
	linksTopic  = "links"
	partitions  = 4
)

var quiet = slog.New(slog.DiscardHandler)

// cluster starts an in-process Kafka with the two topics.
func cluster(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, clicksTopic), kfake.SeedTopics(1, linksTopic))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

func openDB(tb testing.TB, dsn string, raw bool) *statsdb.DB {
	tb.Helper()
	db, err := statsdb.Open(context.Background(), statsdb.Config{DSN: dsn, Migrate: true, RawClicks: raw, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

// produce writes records and returns the end offset of each partition
// they went to.
func produce(tb testing.TB, brokers []string, recs []*kgo.Record) map[int32]int64 {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1_000_000))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ends := map[int32]int64{}
	var mu sync.Mutex
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.Store(&err)
				return
			}
			mu.Lock()
			ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		tb.Fatalf("produce: %v", *err)
	}
	return ends
}

func clickRecords(tb testing.TB, evs []clickevents.Event) []*kgo.Record {
	tb.Helper()
	recs := make([]*kgo.Record, len(evs))
	for i := range evs {
		v, err := evs[i].AppendBinary(nil)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: clicksTopic, Key: []byte(evs[i].Code), Value: v, Timestamp: evs[i].Time}
	}
	return recs
}

// waitOffsets waits until the group's stored offsets of topic reach ends.
func waitOffsets(tb testing.TB, db *statsdb.DB, group, topic string, ends map[int32]int64, timeout time.Duration) {
	tb.Helper()
	parts := make([]int32, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := db.LoadOffsets(context.Background(), group, topic, parts)
		if err != nil {
			tb.Fatal(err)
		}
		done := true
		for p, end := range ends {
			if got[p] != end {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("offsets of %s are %v after %v, want %v", topic, got, timeout, ends)
		}
		<-tick.C
	}
}

// run starts a consumer and returns a function that stops it and
// returns Run's error.
func run(tb testing.TB, cfg Config) (*Consumer, func() error) {
	tb.Helper()
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	tb.Cleanup(func() { stop() })
	return c, stop
}

// TestIngestMatchesReference consumes events through Kafka into both
// databases, with an undecodable record among them, and compares every
// table with the reference.
func TestIngestMatchesReference(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		brokers := cluster(t)
		db := openDB(t, dsn, true)
		rng := rand.New(rand.NewPCG(21, 22))
		evs := aggtest.Events(rng, 2500, aggtest.Links(20), time.Date(2026, 11, 20, 21, 0, 0, 0, time.UTC), 30*time.Hour, 500)
		recs := clickRecords(t, evs)
		recs = append(recs, &kgo.Record{Topic: clicksTopic, Key: []byte("junk"), Value: []byte{9, 9, 9}}) // a future version
		ends := produce(t, brokers, recs)
		// Batches of up to 1,000 records, of polls of up to 400: batches
		// of several polls, and several batches.
		c, stop := run(t, Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: linksTopic, Group: "g",
			MaxPollRecords: 400, MaxBatchEvents: 1000, Linger: 200 * time.Millisecond, DB: db, Logger: quiet})
		waitOffsets(t, db, "g", clicksTopic, ends, 60*time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
		if n := statsdbtest.Count(t, dsn, "clicks"); n != int64(len(evs)) {
			t.Errorf("%d raw clicks, want %d", n, len(evs))
		}
		st := c.Stats()
		if st.Events != int64(len(evs)) || st.Skipped != 1 || st.Failed != 0 || st.Batches < 3 {
			t.Errorf("stats %+v, want %d events, 1 skipped, at least 3 batches", st, len(evs))
		}
	})
}

// TestExactlyOnce consumes a known set of events (visitors that repeat,
// bots) with two consumers of one group that are killed again and again at
// random points of a batch (after the poll, in the middle of the
// transaction, after the commit) and restarted, and stopped and started to
// force rebalances; the aggregates must equal the reference exactly.
func TestExactlyOnce(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		brokers := cluster(t)
		db := openDB(t, dsn, false)
		rng := rand.New(rand.NewPCG(31, 32))
		evs := aggtest.Events(rng, 8000, aggtest.Links(40), time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC), 4*time.Hour, 800)
		ends := produce(t, brokers, clickRecords(t, evs))

		// Every third batch that reaches a point dies there, until each
		// point has killed perCrash consumers (the moment within the
		// transaction is random).
		const perCrash = 4
		var crashes, calls [numCrashPoints]atomic.Int64
		crash := func(p crashPoint) bool {
			if calls[p].Add(1)%3 != 0 || crashes[p].Load() >= perCrash {
				return false
			}
			crashes[p].Add(1)
			return true
		}
		cfg := Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: linksTopic, Group: "g",
			// Batches of 300 records as two polls: as many batches as
			// crash points need, each made of several polls.
			MaxPollRecords: 150, MaxBatchEvents: 300, Linger: 100 * time.Millisecond,
			DB: db, Logger: quiet, RetryBackoff: 10 * time.Millisecond, crash: crash,
			ClientOpts: []kgo.Opt{kgo.FetchMaxBytes(64 << 10)}}

		// Two slots, each restarting its consumer when it dies; every few
		// rounds one slot is stopped and started on purpose: a rebalance.
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var restarts atomic.Int64
		for slot := range 2 {
			wg.Go(func() {
				for round := 0; ctx.Err() == nil; round++ {
					c, err := New(cfg)
					if err != nil {
						t.Error(err)
						return
					}
					runCtx, stopRun := context.WithCancel(ctx)
					if slot == 1 && round < 4 {
						// Leave after a while, to rebalance.
						go func() {
							select {
							case <-time.After(time.Duration(100+rand.IntN(300)) * time.Millisecond):
							case <-runCtx.Done():
							}
							stopRun()
						}()
					}
					err = c.Run(runCtx)
					stopRun()
					if err != nil && !errors.Is(err, errCrashed) {
						t.Errorf("Run: %v", err)
						return
					}
					restarts.Add(1)
				}
			})
		}
		waitOffsets(t, db, "g", clicksTopic, ends, 120*time.Second)
		cancel()
		wg.Wait()

		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), aggtest.Compute(evs))
		t.Logf("consumer runs ended: %d", restarts.Load())
		for p := range numCrashPoints {
			if n := crashes[p].Load(); n != perCrash {
				t.Errorf("crash point %d killed %d consumers, want %d", p, n, perCrash)
			}
		}
	})
}

// TestLinkDeletion removes a deleted link's statistics when its event
// arrives through the link-events topic asking for it (purge_stats), and
// keeps those of a link deleted without it, of an expired link and of a
// disabled link.
func TestLinkDeletion(t *testing.T) {
	statsdbtest.Backends(t, testenv.Schema, func(t *testing.T, dsn string) {
		brokers := cluster(t)
		db := openDB(t, dsn, false)
		at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		ev := func(code string, id int64) clickevents.Event {
			return clickevents.Event{Time: at, Code: code, LinkID: id, Status: 302, Visitor: 1, Country: "FR", UserAgent: "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"}
		}
		evs := []clickevents.Event{ev("gone1", 11), ev("gone1", 11), ev("kept22", 22), ev("off333", 33), ev("exp4444", 44)}
		ends := produce(t, brokers, clickRecords(t, evs))
		_, stop := run(t, Config{Brokers: brokers, ClicksTopic: clicksTopic, LinkEventsTopic: linksTopic, Group: "g", DB: db, Logger: quiet})
		waitOffsets(t, db, "g", clicksTopic, ends, 30*time.Second)

		var recs []*kgo.Record
		for _, e := range []linkevents.Event{
			linkevents.NewDeleted(linkstore.Link{Code: "gone1", ID: 11}, linkevents.ReasonAPI, at.Add(time.Hour)).WithPurge(),
			linkevents.NewDeleted(linkstore.Link{Code: "kept22", ID: 22}, linkevents.ReasonAPI, at.Add(time.Hour)),
			linkevents.NewDeleted(linkstore.Link{Code: "exp4444", ID: 44}, linkevents.ReasonExpired, at.Add(time.Hour)),
			{Type: linkevents.Disabled, Code: "off333", LinkID: 33, At: at.Add(time.Hour), State: linkevents.State{URL: "https://example.com/", Disabled: true}},
		} {
			v, err := linkevents.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: linksTopic, Key: e.Key(), Value: v})
		}
		linkEnds := produce(t, brokers, recs)
		waitOffsets(t, db, "g", linksTopic, linkEnds, 30*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}

		want := aggtest.Compute([]clickevents.Event{ev("kept22", 22), ev("off333", 33), ev("exp4444", 44)})
		all := aggtest.Compute(evs)
		for k, v := range all.Clicks {
			if k.Code == "" { // the roll-up keeps the deleted link's clicks
				want.Clicks[k], want.Visitors[k] = v, all.Visitors[k]
			}
		}
		for k, v := range all.Dims {
			if k.Code == "" {
				want.Dims[k] = v
			}
		}
		statsdbtest.Compare(t, statsdbtest.Read(t, dsn), want)
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite://"+filepath.Join(t.TempDir(), "s.db"), false)
	for name, cfg := range map[string]Config{
		"no brokers":   {DB: db},
		"no database":  {Brokers: []string{"127.0.0.1:1"}},
		"bad max poll": {Brokers: []string{"127.0.0.1:1"}, DB: db, MaxPollRecords: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
