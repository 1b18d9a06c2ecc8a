// Package partitions runs the upkeep of the stats database's partitions
// on the Raft leader: a Scheduler calls the schema's owner, package
// stats/partitions (create ahead, drop past retention, catalogue), at the
// start of each leadership and then on an interval.
package partitions

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

// Defaults of the scheduler.
const (
	// DefaultInterval is how often the leader re-runs the upkeep.
	DefaultInterval = 24 * time.Hour
	// DefaultRetryInterval is how soon a failed run is retried.
	DefaultRetryInterval = 5 * time.Minute
	// DefaultRunTimeout bounds one run.
	DefaultRunTimeout = 10 * time.Minute
)

// Maintainer is the upkeep the Scheduler runs; *statsparts.Manager
// implements it.
type Maintainer interface {
	Maintain(ctx context.Context, now time.Time) (statsparts.Report, error)
}

// PolicyMaintainer is a Maintainer that can run the upkeep with a given
// policy; *statsparts.Manager implements it.
type PolicyMaintainer interface {
	Maintainer
	MaintainWith(ctx context.Context, now time.Time, p statsparts.Policy) (statsparts.Report, error)
}

// Run is one finished run of the upkeep.
type Run struct {
	// Now is the time the run was made for.
	Now time.Time
	// Report is what it changed.
	Report statsparts.Report
	// Err is its error, nil on success.
	Err error
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Interval is the time between runs while leading (default
	// DefaultInterval).
	Interval time.Duration
	// RetryInterval is the time before the next run after a failed one
	// (default DefaultRetryInterval, at most Interval).
	RetryInterval time.Duration
	// RunTimeout bounds one run (default DefaultRunTimeout).
	RunTimeout time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// After returns a channel that receives once d has passed (nil:
	// time.After). Tests inject their own timer through it.
	After func(d time.Duration) <-chan time.Time
	// OnRun, when set, is called after every run, from the scheduler's
	// goroutine.
	OnRun func(Run)
	// Logger receives the runs (nil: slog.Default()).
	Logger *slog.Logger
	// Policy, when set, is read at the start of every run: while it has a
	// policy, the run uses it (the Maintainer must be a PolicyMaintainer),
	// so that a change applies to the next run without a restart.
	Policy statsparts.PolicySource
}

// Scheduler runs a Maintainer while this node is the leader: at the start
// of every leadership, then every Interval (RetryInterval after a failure)
// until the leadership ends. A run in progress when leadership is lost is
// cancelled; the next leader starts with a run of its own, and every step of
// the upkeep is idempotent, so nothing is left half-done for good.
type Scheduler struct {
	m      Maintainer
	cfg    SchedulerConfig
	runner *leader.Runner

	// trace, when set by a test, sees the loop's states (leader.Config.Trace).
	trace func(state string)
}

// NewScheduler returns a scheduler; Start runs it.
func NewScheduler(m Maintainer, lead leader.Leadership, cfg SchedulerConfig) (*Scheduler, error) {
	if m == nil || lead == nil {
		return nil, errors.New("partitions: a scheduler needs a maintainer and a leadership")
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.RetryInterval = min(cmp.Or(cfg.RetryInterval, DefaultRetryInterval), cfg.Interval)
	cfg.RunTimeout = cmp.Or(cfg.RunTimeout, DefaultRunTimeout)
	if cfg.Interval < 0 || cfg.RetryInterval < 0 || cfg.RunTimeout < 0 {
		return nil, errors.New("partitions: scheduler intervals must be positive")
	}
	if _, ok := m.(PolicyMaintainer); cfg.Policy != nil && !ok {
		return nil, errors.New("partitions: a scheduler with a policy source needs a PolicyMaintainer")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Scheduler{m: m, cfg: cfg}
	s.runner = leader.NewRunner(lead, s.runOnce, leader.Config{
		Name:     "partition upkeep",
		LogAttrs: []any{"interval", cfg.Interval},
		After:    cfg.After,
		Logger:   cfg.Logger,
		Trace:    s.tracef,
	})
	return s, nil
}

// Start runs the scheduler in a goroutine until ctx is done or Close is
// called. Only the first call starts it.
func (s *Scheduler) Start(ctx context.Context) { s.runner.Start(ctx) }

// Close stops the scheduler, cancelling a run in progress, and returns
// once its goroutine has ended. It is idempotent.
func (s *Scheduler) Close() error { return s.runner.Close() }

// runOnce runs the upkeep and returns the time until the next run.
func (s *Scheduler) runOnce(ctx context.Context) time.Duration {
	now := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RunTimeout)
	var rep statsparts.Report
	var err error
	if p, ok := s.policy(); ok {
		rep, err = s.m.(PolicyMaintainer).MaintainWith(rctx, now, p)
	} else {
		rep, err = s.m.Maintain(rctx, now)
	}
	cancel()
	wait := s.cfg.Interval
	switch {
	case err != nil && ctx.Err() != nil:
		s.cfg.Logger.Info("partition upkeep cancelled", "err", err)
	case err != nil:
		wait = s.cfg.RetryInterval
		s.cfg.Logger.Error("partition upkeep failed; retrying later", "err", err, "retry_in", wait)
	default:
		s.cfg.Logger.Debug("partition upkeep done", "created", len(rep.Created),
			"expired", len(rep.Expired.Partitions), "rows_deleted", rep.Expired.Rows)
	}
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(Run{Now: now, Report: rep, Err: err})
	}
	return wait
}

// policy returns the policy of the next run; false: the Maintainer's own.
func (s *Scheduler) policy() (statsparts.Policy, bool) {
	if s.cfg.Policy == nil {
		return statsparts.Policy{}, false
	}
	return s.cfg.Policy.Policy()
}

func (s *Scheduler) tracef(state string) {
	if s.trace != nil {
		s.trace(state)
	}
}
