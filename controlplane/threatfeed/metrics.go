package threatfeed

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the refresh's Prometheus collectors:
//
//	shortify_cp_threat_feed_entries{feed}                       entries of the feed's last good read
//	shortify_cp_threat_feed_last_success_timestamp_seconds{feed} when it was read last
//	shortify_cp_threat_feed_failures_total{feed}                reads that failed (the last good list stayed)
//	shortify_cp_links_flagged_total                             links flagged for review by a refresh
//
// A nil *Metrics counts nothing.
type Metrics struct {
	entries  *prometheus.GaugeVec
	success  *prometheus.GaugeVec
	failures *prometheus.CounterVec
	flagged  prometheus.Counter
}

// NewMetrics makes the collectors.
func NewMetrics() *Metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "shortify", Subsystem: "cp", Name: name, Help: help}
	}
	return &Metrics{
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("threat_feed_entries",
			"Entries of each threat feed's last good read.")), []string{"feed"}),
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("threat_feed_last_success_timestamp_seconds",
			"When each threat feed was last read successfully (Unix time).")), []string{"feed"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts(opts("threat_feed_failures_total",
			"Reads of each threat feed that failed; its last good list stayed in use.")), []string{"feed"}),
		flagged: prometheus.NewCounter(prometheus.CounterOpts(opts("links_flagged_total",
			"Links flagged for review because a refresh put their target on a block list."))),
	}
}

// Collectors are the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.entries, m.success, m.failures, m.flagged}
}

func (m *Metrics) loaded(feed string, n int, at time.Time) {
	if m != nil {
		m.entries.WithLabelValues(feed).Set(float64(n))
		m.success.WithLabelValues(feed).Set(float64(at.UnixNano()) / 1e9)
		m.failures.WithLabelValues(feed) // from zero, so that rate() sees the first failure
	}
}

func (m *Metrics) failed(feed string) {
	if m != nil {
		m.failures.WithLabelValues(feed).Inc()
	}
}

func (m *Metrics) flaggedLinks(n int) {
	if m != nil {
		m.flagged.Add(float64(n))
	}
}
