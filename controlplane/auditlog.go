package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/controlplane/partitions"
)

// openReportsTimeout bounds the count of open reports at a scrape.
const openReportsTimeout = 2 * time.Second

// startAudit opens the audit log and the reports in the link database,
// starts the recorder that writes the API's audit entries in batches, and
// runs the log's retention upkeep while this node leads, on the stats
// partitions' scheduler (s.lead must be set).
func (s *service) startAudit(ctx context.Context, log *slog.Logger) (err error) {
	s.audit, err = audit.Open(ctx, audit.Config{DSN: s.cfg.Database, Retention: s.cfg.AuditRetention})
	if err != nil {
		return fmt.Errorf("shortify: open the audit log: %w", err)
	}
	alog := log.With("component", "audit")
	s.auditRec = audit.NewRecorder(s.audit, audit.RecorderConfig{Logger: alog})
	s.auditUpkeep, err = partitions.NewScheduler(s.audit, s.lead, partitions.SchedulerConfig{
		Interval: s.cfg.Partitions.CheckInterval,
		Logger:   alog,
	})
	if err != nil {
		return fmt.Errorf("shortify: audit log upkeep: %w", err)
	}
	s.auditUpkeep.Start(context.Background())
	s.metrics.watchAudit(s.auditRec, s.audit)
	return nil
}

// closeAudit stops the upkeep, writes the queued entries and closes the
// log; it works on a half-started service too.
func (s *service) closeAudit() error {
	var err error
	if s.auditUpkeep != nil {
		err = s.auditUpkeep.Close()
	}
	if s.auditRec != nil {
		s.auditRec.Close()
	}
	if s.audit != nil {
		s.audit.Close()
	}
	return err
}

// auditDeps adds the audit log and the reports to d.
func (s *service) auditDeps(d *api.Deps) {
	if s.audit == nil {
		return
	}
	d.Audit, d.AuditLog = s.auditRec, s.audit
	d.Reports = countedReports{s.audit, s.metrics.reportsReceived}
}

// countedReports counts the reports stored.
type countedReports struct {
	*audit.Store
	received prometheus.Counter
}

// CreateReport implements api.ReportStore.
func (c countedReports) CreateReport(ctx context.Context, r audit.Report) (int64, error) {
	id, err := c.Store.CreateReport(ctx, r)
	if err == nil {
		c.received.Inc()
	}
	return id, err
}

// auditMetrics are the audit log's and the reports' metrics.
type auditMetrics struct {
	reportsReceived prometheus.Counter
	// funcs read the recorder and the store once watchAudit has them.
	funcs atomic.Pointer[[]prometheus.Collector]
}

func newAuditMetrics() auditMetrics {
	return auditMetrics{reportsReceived: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "shortify", Subsystem: "cp", Name: "reports_received_total",
		Help: "Abuse reports stored through the API on this node.",
	})}
}

// watchAudit makes the collectors of rec and store.
func (m *auditMetrics) watchAudit(rec *audit.Recorder, store *audit.Store) {
	var open atomic.Int64
	fs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "shortify", Subsystem: "cp", Name: "audit_entries_written_total",
			Help: "Audit log entries written by this node."}, func() float64 { return float64(rec.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "shortify", Subsystem: "cp", Name: "audit_entries_dropped_total",
			Help: "Audit log entries this node lost: its queue was full or their write failed."}, func() float64 { return float64(rec.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "shortify", Subsystem: "cp", Name: "reports_open",
			Help: "Abuse reports not resolved yet (all nodes'; the last count read when the database does not answer)."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), openReportsTimeout)
			defer cancel()
			if n, err := store.OpenReports(ctx); err == nil {
				open.Store(n)
			}
			return float64(open.Load())
		}),
	}
	m.funcs.Store(&fs)
}

func (m *auditMetrics) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{m.reportsReceived}
	if fs := m.funcs.Load(); fs != nil {
		cs = append(cs, *fs...)
	}
	return cs
}
