package stats

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/promreg"
	"github.com/shortify/shortify/stats/ingest"
)

// lagEvery is how often the consumer lag is measured: a metadata and a
// ListOffsets request to the brokers and one offsets query per topic.
const lagEvery = 5 * time.Second

// metrics are the stats ingest's Prometheus collectors. The app registers
// them with the metrics registry of its config (Caddy's /metrics serves
// it, ctx.GetMetricsRegistry()) in Provision and takes them out in Stop,
// so a reload's new app starts a new set, from zero, as Caddy's own HTTP
// metrics do. Counters are read from the running consumer's Stats() at
// each scrape, plus those of consumers the app restarted after an error.
//
//	shortify_stats_events_consumed_total            click records polled (a batch that failed is polled again)
//	shortify_stats_events_counted_total{kind}       clicks committed to the stats database: human, bot
//	shortify_stats_events_skipped_total             records that did not decode (skipped)
//	shortify_stats_batches_written_total            batches committed
//	shortify_stats_batch_failures_total             batches whose write failed: dropped and consumed again
//	shortify_stats_batches_fenced_total             of them, refused because another consumer moved the offsets
//	shortify_stats_batch_write_duration_seconds     histogram: a batch's transaction, committed or not
//	shortify_stats_batch_records                    histogram: records in a committed batch
//	shortify_stats_deletions_applied_total          deleted links whose statistics were removed
//	shortify_stats_rebalances_total                 partitions assigned, revoked or lost (group changes)
//	shortify_stats_assigned_partitions              partitions this instance holds (clicks and link events)
//	shortify_stats_consumer_lag{topic,partition}    high watermark - next offset stored in the stats database
//	shortify_stats_lag_errors_total                 lag measurements that failed
type metrics struct {
	writeDuration prometheus.Histogram
	batchRecords  prometheus.Histogram
	lag           *prometheus.GaugeVec
	lagErrors     prometheus.Counter

	consumed, counted, skipped, batches, failures, fenced, deletions, rebalances, assigned *prometheus.Desc

	// every is how often the lag is measured (lagEvery; tests shorten it).
	every time.Duration

	mu   sync.Mutex
	cur  *ingest.Consumer
	base ingest.Stats // of the consumers that ended
	// lagged are the partitions with a lag series, to drop those gone.
	lagged map[[2]string]bool
}

const metricsNamespace, metricsSubsystem = "shortify", "stats"

// writeBuckets go from a small batch on a local database to the write
// timeout's neighbourhood.
var writeBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// recordBuckets span one click to max_batch_events' default.
var recordBuckets = prometheus.ExponentialBuckets(1, 4, 10) // 1 .. 262144

func newMetrics() *metrics {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, metricsSubsystem, n) }
	desc := func(n, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name(n), help, labels, nil)
	}
	return &metrics{
		every: lagEvery,
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "batch_write_duration_seconds",
			Help:    "Time of a batch's transaction in the stats database, committed or not.",
			Buckets: writeBuckets,
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "batch_records",
			Help:    "Records (clicks and link events) in a committed batch.",
			Buckets: recordBuckets,
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "consumer_lag",
			Help: "Records of a partition not yet counted: its high watermark minus the next offset stored in the stats database. " +
				"Every instance reports every partition: take the max by topic and partition.",
		}, []string{"topic", "partition"}),
		lagErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "lag_errors_total",
			Help: "Consumer lag measurements that failed (brokers or stats database unreachable).",
		}),
		consumed: desc("events_consumed_total", "Click records polled from Kafka; a batch that failed is polled again."),
		counted:  desc("events_counted_total", "Clicks committed to the stats database, by kind (human, bot).", "kind"),
		skipped:  desc("events_skipped_total", "Records that did not decode and were skipped."),
		batches:  desc("batches_written_total", "Batches committed to the stats database."),
		failures: desc("batch_failures_total", "Batches whose write failed; their records are consumed again."),
		fenced:   desc("batches_fenced_total", "Batches refused because another consumer had moved their partitions' offsets."),
		deletions: desc("deletions_applied_total",
			"Deleted links whose statistics were removed."),
		rebalances: desc("rebalances_total", "Consumer group changes seen: partitions assigned, revoked or lost."),
		assigned:   desc("assigned_partitions", "Partitions this instance holds."),
	}
}

// collectors are what the app registers.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m, m.writeDuration, m.batchRecords, m.lag, m.lagErrors}
}

// register adds the collectors to reg, undoing a partial registration.
func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register(reg, m.collectors()...)
}

// unregister takes the collectors out of reg.
func (m *metrics) unregister(reg prometheus.Registerer) {
	promreg.Unregister(reg, m.collectors()...)
}

// Describe implements prometheus.Collector for the counters read from
// the consumer.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.consumed, m.counted, m.skipped, m.batches, m.failures, m.fenced,
		m.deletions, m.rebalances, m.assigned} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s, assigned := m.stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(m.consumed, s.Consumed)
	counter(m.counted, s.Human, "human")
	counter(m.counted, s.Bot, "bot")
	counter(m.skipped, s.Skipped)
	counter(m.batches, s.Batches)
	counter(m.failures, s.Failed)
	counter(m.fenced, s.Fenced)
	counter(m.deletions, s.Deletions)
	counter(m.rebalances, s.Rebalances)
	ch <- prometheus.MustNewConstMetric(m.assigned, prometheus.GaugeValue, float64(assigned))
}

// stats returns the counters of every consumer so far and the partitions
// the running one holds.
func (m *metrics) stats() (ingest.Stats, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.base
	if m.cur == nil {
		return s, 0
	}
	c := m.cur.Stats()
	return addStats(s, c), c.Assigned
}

// addStats sums the counters of a and b.
func addStats(a, b ingest.Stats) ingest.Stats {
	a.Events += b.Events
	a.Human += b.Human
	a.Bot += b.Bot
	a.Consumed += b.Consumed
	a.Deletions += b.Deletions
	a.Fenced += b.Fenced
	a.Rebalances += b.Rebalances
	a.Batches += b.Batches
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	return a
}

// running sets the consumer whose counters are read, and returns the
// function that folds them into the totals when it has stopped.
func (m *metrics) running(c *ingest.Consumer) (done func()) {
	m.mu.Lock()
	m.cur = c
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.base = addStats(m.base, c.Stats())
		m.cur = nil
	}
}

// onBatch feeds the histograms.
func (m *metrics) onBatch(r ingest.BatchResult) {
	m.writeDuration.Observe(r.Write.Seconds())
	if r.Err == nil {
		m.batchRecords.Observe(float64(r.Records))
	}
}

// watchLag measures the lag every lagEvery until ctx is done, and drops
// the lag series then: a consumer that is not running reports none.
func (m *metrics) watchLag(ctx context.Context, c *ingest.Consumer) {
	t := time.NewTicker(m.every)
	defer t.Stop()
	defer m.setLag(nil)
	for {
		m.measureLag(ctx, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measureLag measures the lag once.
func (m *metrics) measureLag(ctx context.Context, c *ingest.Consumer) {
	rctx, cancel := context.WithTimeout(ctx, max(m.every, time.Second))
	defer cancel()
	lags, err := c.Lag(rctx)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
			m.lagErrors.Inc()
		}
		return
	}
	m.setLag(lags)
}

// setLag sets the lag series to lags, dropping partitions not in it.
func (m *metrics) setLag(lags []ingest.PartitionLag) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[[2]string]bool{}
	for _, l := range lags {
		k := [2]string{l.Topic, strconv.Itoa(int(l.Partition))}
		now[k] = true
		m.lag.WithLabelValues(k[0], k[1]).Set(float64(l.Lag()))
	}
	for k := range m.lagged {
		if !now[k] {
			m.lag.DeleteLabelValues(k[0], k[1])
		}
	}
	m.lagged = now
}

// Interface guard.
var _ prometheus.Collector = (*metrics)(nil)
