package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cleanup"
	"github.com/shortify/shortify/controlplane/clicktotals"
	"github.com/shortify/shortify/controlplane/partitions"
	"github.com/shortify/shortify/controlplane/threatfeed"
)

// The control plane's Prometheus metrics. They live in the service (the
// node in the usage pool), which outlives config reloads, so unlike the
// edge's they do not restart from zero on a reload. Start registers the
// service with the metrics registry of the config being started (Caddy's
// /metrics serves it, ctx.GetMetricsRegistry()) and Stop unregisters it,
// so each config's registry gathers the one running node.
//
//	shortify_cp_link_creates_total{kind,outcome}      links created through the API: kind single or bulk;
//	                                                  outcome created, conflict, limited, invalid, error
//	shortify_cp_partition_upkeep_runs_total           partition upkeep runs on this node as leader
//	shortify_cp_partition_upkeep_failures_total       of them, those that failed (and are retried)
//	shortify_cp_cleanup_runs_total                    runs of the expired-links cleanup on this node as leader
//	shortify_cp_cleanup_failures_total                of them, those that stopped on an error
//	shortify_cp_cleanup_deleted_total                 expired links the cleanup deleted
//	shortify_cp_audit_entries_written_total           audit log entries this node wrote
//	shortify_cp_audit_entries_dropped_total           audit log entries this node lost (queue full, write failed)
//	shortify_cp_reports_received_total                abuse reports stored through this node
//	shortify_cp_reports_open                          abuse reports not resolved yet
//
// the threat feeds' (threatfeed.Metrics): shortify_cp_threat_feed_entries{feed},
// _threat_feed_last_success_timestamp_seconds{feed},
// _threat_feed_failures_total{feed} and _links_flagged_total;
//
// and the node's own (cluster/metrics.go): shortify_cp_raft_leader,
// _raft_state{state}, _raft_term, _raft_last_index, _raft_commit_index,
// _raft_applied_index, _raft_voters, _raft_nonvoters,
// _raft_commit_duration_seconds, _grants_total{kind} and
// _grant_errors_total{kind}.
type serviceMetrics struct {
	creates        *prometheus.CounterVec
	upkeepRuns     prometheus.Counter
	upkeepFailures prometheus.Counter
	cleanupRuns    prometheus.Counter
	cleanupFails   prometheus.Counter
	cleanupDeleted prometheus.Counter
	auditMetrics
	threats     *threatfeed.Metrics
	clickTotals *clicktotals.Metrics
}

func newServiceMetrics() *serviceMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "shortify", Subsystem: "cp", Name: name, Help: help})
	}
	m := &serviceMetrics{
		creates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "link_creates_total",
			Help: "Links created through the API on this node, by kind (single, bulk: per link) and outcome (created, conflict, invalid, error).",
		}, []string{"kind", "outcome"}),
		upkeepRuns:     counter("partition_upkeep_runs_total", "Runs of the stats partition upkeep on this node as leader."),
		upkeepFailures: counter("partition_upkeep_failures_total", "Runs of the partition upkeep that failed (retried after the retry interval)."),
		cleanupRuns:    counter("cleanup_runs_total", "Runs of the expired-links cleanup on this node as leader."),
		cleanupFails:   counter("cleanup_failures_total", "Runs of the expired-links cleanup that stopped on an error."),
		cleanupDeleted: counter("cleanup_deleted_total", "Expired links deleted by the cleanup."),
		auditMetrics:   newAuditMetrics(),
		threats:        threatfeed.NewMetrics(),
		clickTotals:    clicktotals.NewMetrics(),
	}
	// Every series from zero, so that rate() sees the first increment.
	for _, kind := range []string{api.CreateSingle, api.CreateBulk} {
		for _, outcome := range api.Outcomes {
			m.creates.WithLabelValues(kind, outcome)
		}
	}
	return m
}

func (m *serviceMetrics) collectors() []prometheus.Collector {
	cs := append([]prometheus.Collector{m.creates, m.upkeepRuns, m.upkeepFailures, m.cleanupRuns, m.cleanupFails, m.cleanupDeleted},
		m.threats.Collectors()...)
	cs = append(cs, m.clickTotals.Collectors()...)
	return append(cs, m.auditMetrics.collectors()...)
}

// ObserveCreates implements api.CreateObserver.
func (m *serviceMetrics) ObserveCreates(kind, outcome string, n int) {
	m.creates.WithLabelValues(kind, outcome).Add(float64(n))
}

// upkeepRun counts a partition upkeep run; one that the end of the
// leadership cancelled is a run, not a failure.
func (m *serviceMetrics) upkeepRun(r partitions.Run) {
	m.upkeepRuns.Inc()
	if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
		m.upkeepFailures.Inc()
	}
}

// cleanupRun counts a cleanup run, as upkeepRun does.
func (m *serviceMetrics) cleanupRun(r cleanup.Run) {
	m.cleanupRuns.Inc()
	m.cleanupDeleted.Add(float64(r.Deleted))
	if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
		m.cleanupFails.Inc()
	}
}

// Describe implements prometheus.Collector: the service's metrics and,
// once it has one, its node's.
func (s *service) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.metrics.collectors() {
		c.Describe(ch)
	}
	if s.node != nil {
		s.node.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s *service) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.metrics.collectors() {
		c.Collect(ch)
	}
	if s.node != nil {
		s.node.Collect(ch)
	}
}

// registerMetrics registers svc with reg (nil: no registry, nothing to
// do).
func registerMetrics(reg prometheus.Registerer, svc *service) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(svc); err != nil {
		return fmt.Errorf("shortify: register control-plane metrics: %w", err)
	}
	return nil
}

// Interface guards.
var (
	_ prometheus.Collector = (*service)(nil)
	_ api.CreateObserver   = (*serviceMetrics)(nil)
)
