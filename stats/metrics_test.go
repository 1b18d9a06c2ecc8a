package stats

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/ingest"
	"github.com/shortify/shortify/stats/statsdb"
)

// TestMetrics runs the app against an in-process Kafka and a SQLite file
// with clicks (human and bot), a record that does not decode and a link
// deletion on the topics, and checks every counter's exact value, the
// histograms' counts and that the lag of every partition goes to 0; then
// that Stop takes the collectors out of the registry, so that the next
// config's app (a reload) registers its own.
func TestMetrics(t *testing.T) {
	t.Parallel()
	const humans, bots = 30, 20
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "clicks"), kfake.SeedTopics(1, linkevents.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range humans + bots {
		ev := clickevents.Event{Time: time.Now().UTC(), Code: "abc" + string(rune('a'+i%5)), LinkID: int64(1 + i%5),
			Status: 302, Visitor: uint64(i), Bot: i >= humans}
		v, err := ev.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(ev.Code), Value: v})
	}
	recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte("junk"), Value: []byte("not a click")})
	del, err := linkevents.Encode(linkevents.Event{Type: linkevents.Deleted, Code: "gone1", LinkID: 99, At: time.Now().UTC(),
		Reason: linkevents.ReasonAPI, PurgeStats: true}) // only a purge removes statistics
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, &kgo.Record{Topic: linkevents.DefaultTopic, Key: []byte("gone1"), Value: del})
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	// Before anything is consumed, the lag is every record.
	if lags := lagBeforeStart(t, c.ListenAddrs(), dsn); lags["clicks"] != humans+bots+1 || lags[linkevents.DefaultTopic] != 1 {
		t.Errorf("lag before consuming: %v, want clicks %d, %s 1", lags, humans+bots+1, linkevents.DefaultTopic)
	}

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	reg := ctx.GetMetricsRegistry()
	a := &App{Brokers: c.ListenAddrs(), Database: dsn}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	a.metrics.every = 20 * time.Millisecond
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()

	var got map[string]float64
	testenv.WaitFor(t, "every record counted and no lag left", 30*time.Second, func() bool {
		got = promtest.Samples(t, reg, "shortify_stats_")
		return got["shortify_stats_events_counted_total{kind=bot}"] == bots &&
			got["shortify_stats_deletions_applied_total{}"] == 1 &&
			got["shortify_stats_consumer_lag{partition=0,topic=clicks}"] == 0 &&
			got["shortify_stats_consumer_lag{partition=1,topic=clicks}"] == 0 &&
			got["shortify_stats_consumer_lag{partition=0,topic="+linkevents.DefaultTopic+"}"] == 0 &&
			len(lagSeries(got)) == 3
	})
	batches := got["shortify_stats_batches_written_total{}"]
	for name, want := range map[string]float64{
		"shortify_stats_events_consumed_total{}":              humans + bots + 1, // the undecodable record too
		"shortify_stats_events_counted_total{kind=human}":     humans,
		"shortify_stats_events_counted_total{kind=bot}":       bots,
		"shortify_stats_events_skipped_total{}":               1,
		"shortify_stats_batch_failures_total{}":               0,
		"shortify_stats_batches_fenced_total{}":               0,
		"shortify_stats_deletions_applied_total{}":            1,
		"shortify_stats_assigned_partitions{}":                3,
		"shortify_stats_lag_errors_total{}":                   0,
		"shortify_stats_batch_records_count{}":                batches,
		"shortify_stats_batch_records_sum{}":                  humans + bots + 2,
		"shortify_stats_batch_write_duration_seconds_count{}": batches,
	} {
		if g, ok := got[name]; !ok || g != want {
			t.Errorf("%s = %v (exported: %v), want %v", name, g, ok, want)
		}
	}
	if batches < 1 || got["shortify_stats_rebalances_total{}"] < 1 {
		t.Errorf("batches %v, rebalances %v: want at least 1 each", batches, got["shortify_stats_rebalances_total{}"])
	}

	// A reload: the old app stops and takes its collectors out; the new
	// one registers its own in the same registry.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	for name := range promtest.Samples(t, reg, "shortify_stats_") {
		t.Errorf("%s still registered after Stop", name)
	}
	if err := a.metrics.register(reg); err != nil {
		t.Errorf("registering again after Stop: %v", err)
	}
	a.metrics.unregister(reg)
}

// lagBeforeStart measures the group's lag per topic with a consumer that
// never polls (it joins no group), then closes it.
func lagBeforeStart(t *testing.T, brokers []string, dsn string) map[string]int64 {
	t.Helper()
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: dsn, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := ingest.New(ingest.Config{Brokers: brokers, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := c.Run(ctx); err != nil { // cancelled: closes the client at once
			t.Error(err)
		}
	}()
	lags, err := c.Lag(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, l := range lags {
		out[l.Topic] += l.Lag()
	}
	return out
}

// lagSeries are the consumer-lag samples of got.
func lagSeries(got map[string]float64) []string {
	var out []string
	for name := range got {
		if strings.HasPrefix(name, "shortify_stats_consumer_lag{") {
			out = append(out, name)
		}
	}
	return out
}
