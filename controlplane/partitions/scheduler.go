package partitions

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
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

// Leadership tells whether this node is the cluster's leader. Only the
// leader runs the scheduled upkeep.
type Leadership interface {
	// Leading reports whether this node leads now, and a channel that is
	// closed at the next change of that answer.
	Leading() (leading bool, changed <-chan struct{})
}

// LeaderFlag is a Leadership that someone sets: an adapter over a Raft
// node's leadership observations, or a test. The zero value is a follower.
type LeaderFlag struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{}
}

// Leading implements Leadership.
func (f *LeaderFlag) Leading() (bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.leading, f.changed
}

// Set records whether this node leads; a change wakes the watchers.
func (f *LeaderFlag) Set(leading bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leading == leading {
		return
	}
	f.leading = leading
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// Maintainer is the upkeep the Scheduler runs; *Manager implements it.
type Maintainer interface {
	Maintain(ctx context.Context, now time.Time) (Report, error)
}

// Run is one finished run of the upkeep.
type Run struct {
	// Now is the time the run was made for.
	Now time.Time
	// Report is what it changed.
	Report Report
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
}

// Scheduler runs a Maintainer while this node is the leader: at the start
// of every leadership, then every Interval (RetryInterval after a failure)
// until the leadership ends. A run in progress when leadership is lost is
// cancelled; the next leader starts with a run of its own, and every step of
// the upkeep is idempotent, so nothing is left half-done for good.
type Scheduler struct {
	m    Maintainer
	lead Leadership
	cfg  SchedulerConfig

	// trace, when set by a test, sees the loop's states: "follower"
	// (waiting for leadership) and "stopped".
	trace func(state string)

	mu      sync.Mutex
	started bool // Start ran its goroutine
	closed  bool // Close was called: Start does nothing
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewScheduler returns a scheduler; Start runs it.
func NewScheduler(m Maintainer, lead Leadership, cfg SchedulerConfig) (*Scheduler, error) {
	if m == nil || lead == nil {
		return nil, errors.New("partitions: a scheduler needs a maintainer and a leadership")
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.RetryInterval = min(cmp.Or(cfg.RetryInterval, DefaultRetryInterval), cfg.Interval)
	cfg.RunTimeout = cmp.Or(cfg.RunTimeout, DefaultRunTimeout)
	if cfg.Interval < 0 || cfg.RetryInterval < 0 || cfg.RunTimeout < 0 {
		return nil, errors.New("partitions: scheduler intervals must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{m: m, lead: lead, cfg: cfg, done: make(chan struct{})}, nil
}

// Start runs the scheduler in a goroutine until ctx is done or Close is
// called. Only the first call starts it.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// Close stops the scheduler, cancelling a run in progress, and returns
// once its goroutine has ended. It is idempotent.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	started, cancel := s.started, s.cancel
	s.closed = true
	s.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	<-s.done
	return nil
}

func (s *Scheduler) run(ctx context.Context) {
	defer s.tracef("stopped")
	for ctx.Err() == nil {
		leading, changed := s.lead.Leading()
		if !leading {
			s.tracef("follower")
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		s.cfg.Logger.Info("leading: partition upkeep starts", "interval", s.cfg.Interval)
		s.leadTerm(ctx, changed)
		if ctx.Err() == nil {
			s.cfg.Logger.Info("no longer leading: partition upkeep stops")
		}
	}
}

// leadTerm runs the upkeep now and then every interval until changed is
// closed or ctx is done.
func (s *Scheduler) leadTerm(ctx context.Context, changed <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		// Cancels a run in progress when the leadership ends.
		select {
		case <-changed:
			cancel()
		case <-ctx.Done():
		}
	})
	defer wg.Wait()
	defer cancel()
	for {
		wait := s.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.cfg.After(wait):
		}
	}
}

// runOnce runs the upkeep and returns the time until the next run.
func (s *Scheduler) runOnce(ctx context.Context) time.Duration {
	now := s.cfg.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RunTimeout)
	rep, err := s.m.Maintain(rctx, now)
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

func (s *Scheduler) tracef(state string) {
	if s.trace != nil {
		s.trace(state)
	}
}

// PolledLeadership is a Leadership that asks a function every interval,
// for a leader election without a notification of its own (such as a Raft
// node that only tells its current state). Close stops it.
type PolledLeadership struct {
	LeaderFlag
	cancel context.CancelFunc
	done   chan struct{}
}

// PollLeadership asks isLeader now and then every interval, until Close.
func PollLeadership(isLeader func() bool, every time.Duration) *PolledLeadership {
	ctx, cancel := context.WithCancel(context.Background())
	p := &PolledLeadership{cancel: cancel, done: make(chan struct{})}
	p.Set(isLeader())
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.Set(isLeader())
			}
		}
	}()
	return p
}

// Close stops the polling and returns once it has stopped. The flag keeps
// its last value.
func (p *PolledLeadership) Close() {
	p.cancel()
	<-p.done
}
