package clicktotals

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the job's Prometheus collectors:
//
//	shortify_cp_click_totals_links_updated_total          links whose totals a pass changed
//	shortify_cp_click_totals_pass_duration_seconds{kind}  passes by kind (full, incremental) and duration
//	shortify_cp_click_totals_errors_total                 passes that failed (retried after 5 s)
//
// A nil *Metrics counts nothing.
type Metrics struct {
	updated  prometheus.Counter
	duration *prometheus.HistogramVec
	errors   prometheus.Counter
}

// NewMetrics makes the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		updated: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "shortify", Subsystem: "cp",
			Name: "click_totals_links_updated_total", Help: "Links whose click totals a pass of the click-totals job changed."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "shortify", Subsystem: "cp",
			Name: "click_totals_pass_duration_seconds", Help: "Passes of the click-totals job, by kind (full, incremental), and how long each took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9)}, []string{"kind"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "shortify", Subsystem: "cp",
			Name: "click_totals_errors_total", Help: "Passes of the click-totals job that failed (the links keep their last totals)."}),
	}
	for _, k := range []string{"full", "incremental"} {
		m.duration.WithLabelValues(k)
	}
	return m
}

// Collectors are the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.updated, m.duration, m.errors}
}

// pass records one pass; one that the end of the leadership cancelled is
// not an error.
func (m *Metrics) pass(full bool, d time.Duration, updated int64, err error) {
	if m == nil {
		return
	}
	kind := "incremental"
	if full {
		kind = "full"
	}
	m.updated.Add(float64(updated))
	m.duration.WithLabelValues(kind).Observe(d.Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		m.errors.Inc()
	}
}
