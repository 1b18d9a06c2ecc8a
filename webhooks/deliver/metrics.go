package deliver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/internal/promreg"
	"github.com/shortify/shortify/webhooks"
)

// Why a record made no deliveries although it may have had subscribers.
const (
	// skipUndecodable: the record did not decode (a newer format,
	// garbage).
	skipUndecodable = "undecodable"
	// skipStale: a created or updated event whose link the store no
	// longer shows (deleted since, or forged).
	skipStale = "stale"
)

// Metrics are the deliverer's Prometheus collectors. Every method is a
// no-op on a nil *Metrics, so that tests and tools may leave them out.
//
//	shortify_webhooks_records_skipped_total{reason}        records that made no delivery: undecodable, stale
//	shortify_webhooks_deliveries_enqueued_total{event}     deliveries enqueued by the consumer (a record consumed twice counts twice)
//	shortify_webhooks_enqueue_failures_total               Enqueue calls that failed (retried; the consumer restarts after 3)
//	shortify_webhooks_commit_failures_total                offset commits that failed (the records are consumed again)
//	shortify_webhooks_attempts_total{outcome}              attempts: delivered, retrying, failed (for good)
//	shortify_webhooks_attempt_duration_seconds             histogram: one POST, from connect to the answer's status
//	shortify_webhooks_delivery_delay_seconds               histogram: from the event to its delivery's 2xx
//	shortify_webhooks_claimed_deliveries                   deliveries due at the last claim (at most the claim's limit)
//	shortify_webhooks_in_flight                            attempts under way
type Metrics struct {
	skippedRecords *prometheus.CounterVec
	enqueuedTotal  *prometheus.CounterVec
	enqueueFails   prometheus.Counter
	commitFails    prometheus.Counter
	attempts       *prometheus.CounterVec
	attemptTime    prometheus.Histogram
	delay          prometheus.Histogram
	claimed        prometheus.Gauge
	inFlight       prometheus.Gauge
}

const metricsNamespace, metricsSubsystem = "shortify", "webhooks"

// NewMetrics makes the collectors; Register adds them to a registry.
func NewMetrics() *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
		}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
		})
	}
	m := &Metrics{
		skippedRecords: counter("records_skipped_total", "Records that made no delivery: undecodable, or stale (a link the store no longer shows).", "reason"),
		enqueuedTotal:  counter("deliveries_enqueued_total", "Deliveries enqueued by the consumer, by event.", "event"),
		enqueueFails: counter("enqueue_failures_total",
			"Enqueues that failed; retried, and the consumer restarts from its last commit after 3.").WithLabelValues(),
		commitFails: counter("commit_failures_total", "Offset commits that failed; the records are consumed again.").WithLabelValues(),
		attempts:    counter("attempts_total", "Delivery attempts, by outcome: delivered, retrying, failed (for good).", "outcome"),
		attemptTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "attempt_duration_seconds",
			Help:    "Time of one delivery attempt, from connecting to the answer's status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "delivery_delay_seconds",
			Help:    "Time from an event to the 2xx of its delivery (retries included).",
			Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600},
		}),
		claimed:  gauge("claimed_deliveries", "Deliveries due at the last claim (at most the claim's limit): how far the sender is behind."),
		inFlight: gauge("in_flight", "Delivery attempts under way."),
	}
	for _, ev := range webhooks.Events {
		m.enqueuedTotal.WithLabelValues(string(ev))
	}
	for _, o := range []string{outcomeDelivered, outcomeRetrying, outcomeFailed} {
		m.attempts.WithLabelValues(o)
	}
	m.skippedRecords.WithLabelValues(skipUndecodable)
	m.skippedRecords.WithLabelValues(skipStale)
	return m
}

// collectors are what Register adds.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.skippedRecords, m.enqueuedTotal, m.enqueueFails, m.commitFails,
		m.attempts, m.attemptTime, m.delay, m.claimed, m.inFlight}
}

// Register adds the collectors to reg, undoing a partial registration.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	return promreg.Register(reg, m.collectors()...)
}

// Unregister takes the collectors out of reg.
func (m *Metrics) Unregister(reg prometheus.Registerer) {
	promreg.Unregister(reg, m.collectors()...)
}

func (m *Metrics) skipped(reason string) {
	if m != nil {
		m.skippedRecords.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) enqueued(ds []webhooks.Delivery) {
	if m == nil {
		return
	}
	for _, d := range ds {
		m.enqueuedTotal.WithLabelValues(string(d.Event)).Inc()
	}
}

func (m *Metrics) enqueueFailed() {
	if m != nil {
		m.enqueueFails.Inc()
	}
}

func (m *Metrics) commitFailed() {
	if m != nil {
		m.commitFails.Inc()
	}
}

func (m *Metrics) attempted(outcome string) {
	if m != nil {
		m.attempts.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) observeAttempt(d time.Duration) {
	if m != nil {
		m.attemptTime.Observe(d.Seconds())
	}
}

func (m *Metrics) observeDelay(d time.Duration) {
	if m != nil {
		m.delay.Observe(max(d, 0).Seconds())
	}
}

func (m *Metrics) setClaimed(n int) {
	if m != nil {
		m.claimed.Set(float64(n))
	}
}

func (m *Metrics) addInFlight(n int) {
	if m != nil {
		m.inFlight.Add(float64(n))
	}
}
