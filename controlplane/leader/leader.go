// Package leader runs work only while this node is the cluster's (Raft)
// leader.
//
// A Runner waits on a Leadership until this node leads, then runs a lead
// term: its work at once, then again after the wait the work returns (an
// interval, or a shorter retry after a failure), until the leadership
// changes; the work's context is cancelled at that change. The next term,
// of this node or of another leader, starts with a run of its own, so work
// that is cut off must be idempotent or resumable.
package leader

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Leadership tells whether this node is the cluster's leader.
type Leadership interface {
	// Leading reports whether this node leads now, and a channel that is
	// closed at the next change of that answer.
	Leading() (leading bool, changed <-chan struct{})
}

// Flag is a Leadership that someone sets: an adapter over a Raft node's
// leadership observations, or a test. The zero value is a follower.
type Flag struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{}
}

// Leading implements Leadership.
func (f *Flag) Leading() (bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.leading, f.changed
}

// Set records whether this node leads; a change wakes the watchers.
func (f *Flag) Set(leading bool) {
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

// Polled is a Leadership that asks a function every interval, for a
// leader election without a notification of its own (such as a Raft node
// that only tells its current state). Close stops it.
type Polled struct {
	Flag
	cancel context.CancelFunc
	done   chan struct{}
}

// Poll asks isLeader now and then every interval, until Close.
func Poll(isLeader func() bool, every time.Duration) *Polled {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Polled{cancel: cancel, done: make(chan struct{})}
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
func (p *Polled) Close() {
	p.cancel()
	<-p.done
}

// Work is one run of a Runner's work. ctx is cancelled when the leadership
// changes or the Runner stops. It returns the time until the next run of
// the same lead term.
type Work func(ctx context.Context) (next time.Duration)

// Config configures a Runner.
type Config struct {
	// Name is what the logs call the work: "leading: <Name> starts" and
	// "no longer leading: <Name> stops".
	Name string
	// LogAttrs are the attributes of the "starts" line (slog key-value
	// pairs: the work's settings).
	LogAttrs []any
	// After returns a channel that receives once d has passed (nil:
	// time.After): the wait between runs. Tests inject their own timer.
	After func(d time.Duration) <-chan time.Time
	// Logger receives the leadership changes (nil: slog.Default()).
	Logger *slog.Logger
	// Trace, when set (by tests), sees the loop's states, from the
	// runner's goroutine: "follower" (waiting for leadership), "leading"
	// (a lead term starts) and "stopped".
	Trace func(state string)
}

// Runner runs a Work while this node leads; Start runs it, Close stops it.
type Runner struct {
	lead Leadership
	work Work
	cfg  Config

	mu      sync.Mutex
	started bool // Start ran its goroutine
	closed  bool // Close was called: Start does nothing
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewRunner returns a runner of work while lead tells that this node
// leads; lead and work must not be nil.
func NewRunner(lead Leadership, work Work, cfg Config) *Runner {
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runner{lead: lead, work: work, cfg: cfg, done: make(chan struct{})}
}

// Start runs the runner in a goroutine until ctx is done or Close is
// called. Only the first call starts it; a call after Close does nothing.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
}

// Close stops the runner, cancelling the work's context, and returns once
// its goroutines have ended (once a run in progress has returned). It is
// idempotent.
func (r *Runner) Close() error {
	r.mu.Lock()
	started, cancel := r.started, r.cancel
	r.closed = true
	r.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	<-r.done
	return nil
}

func (r *Runner) run(ctx context.Context) {
	defer r.tracef("stopped")
	for ctx.Err() == nil {
		leading, changed := r.lead.Leading()
		if !leading {
			r.tracef("follower")
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		r.tracef("leading")
		r.cfg.Logger.Info("leading: "+r.cfg.Name+" starts", r.cfg.LogAttrs...)
		r.term(ctx, changed)
		if ctx.Err() == nil {
			r.cfg.Logger.Info("no longer leading: " + r.cfg.Name + " stops")
		}
	}
}

// term runs the work now and then after every wait it asks for, until
// changed is closed or ctx is done.
func (r *Runner) term(ctx context.Context, changed <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		// Cancels a run in progress when the leadership changes.
		select {
		case <-changed:
			cancel()
		case <-ctx.Done():
		}
	})
	defer wg.Wait()
	defer cancel()
	for {
		wait := r.work(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.cfg.After(wait):
		}
	}
}

func (r *Runner) tracef(state string) {
	if r.cfg.Trace != nil {
		r.cfg.Trace(state)
	}
}
