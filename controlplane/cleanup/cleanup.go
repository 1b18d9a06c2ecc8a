// Package cleanup is the Raft leader's retirement of expired links.
//
// An expired link already answers 410 at the edge (the edge compares its
// expiry with the clock); the cleanup retires it so that it leaves the
// caches and the owner's listings, without giving up its code. While this
// node leads (the same leader.Leadership that runs the partition upkeep),
// a Cleaner runs at the start of every leadership and then every
// Interval. A run retires expired links in batches of at most BatchSize,
// one statement each (linkstore.Store.RetireExpired), at most Rate batches
// a second, until a batch comes back short. For every link it retires it
// publishes a deleted event with reason expired (so that edges forget it)
// and removes the link from the Redis L2 cache when there is one.
//
// What it does not do, on purpose: it never deletes the link's row (the
// code is never issued again, and the edge keeps answering 410 from the
// row), and its events never ask the stats service to purge the link's
// statistics, which outlive the link.
//
// Retirement comes first, then the events: a crash between the two loses
// the events of that batch (edges still answer 410 for those codes). A
// run never retires a batch whose events the producer could not buffer:
// it stops when the producer has no room for a whole batch (Kafka down or
// slow) and tries again at the next interval.
//
// A run is cancelled when the leadership ends, between batches: a batch in
// flight is finished, with its events, so that a retirement is never cut
// off from its events by the cancellation. A new leader starts with a run
// of its own; two leaders' batches overlapping for a moment never retire
// or announce a link twice.
package cleanup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
)

// Defaults and bounds of Config.
const (
	// DefaultBatchSize is the most links one batch retires.
	DefaultBatchSize = 500
	// MaxBatchSize bounds BatchSize: one statement, one transaction.
	MaxBatchSize = 10_000
	// DefaultInterval is the time between runs while leading.
	DefaultInterval = time.Minute
	// DefaultRate is the most batches a second: 1,000 links a second with
	// the default batch size, 86 million a day.
	DefaultRate = 2.0
	// DefaultBatchTimeout bounds one batch: the statement, the events and
	// the L2 deletions.
	DefaultBatchTimeout = 30 * time.Second
)

// Store retires expired links; every linkstore.Store does.
type Store interface {
	RetireExpired(ctx context.Context, now time.Time, limit int) ([]linkstore.Link, error)
}

// Events publishes link events without waiting; *producer.Producer
// implements it.
type Events interface {
	// Publish hands an event over, or drops it when the buffer is full.
	Publish(e linkevents.Event)
	// Room is how many more events the buffer takes now.
	Room() int
}

// Cache is the Redis L2 cache; *l2cache.Cache implements it.
type Cache interface {
	Delete(ctx context.Context, domain, code string) error
}

// Config configures a Cleaner.
type Config struct {
	// BatchSize is the most links one statement retires (default
	// DefaultBatchSize, at most MaxBatchSize).
	BatchSize int
	// Interval is the time between runs while leading (default
	// DefaultInterval).
	Interval time.Duration
	// Rate is the most batches a second (default DefaultRate).
	Rate float64
	// BatchTimeout bounds one batch (default DefaultBatchTimeout).
	BatchTimeout time.Duration
	// Events receives a deleted event (reason expired, statistics kept)
	// per link (nil: none are published).
	Events Events
	// Cache, when set, has each retired link's L2 entry removed.
	Cache Cache
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// After returns a channel that receives once d has passed (nil:
	// time.After): the wait between batches and between runs. Tests
	// inject their own.
	After func(d time.Duration) <-chan time.Time
	// OnRun, when set, is called after every run, from the cleaner's
	// goroutine.
	OnRun func(Run)
	// Logger receives the runs (nil: slog.Default()).
	Logger *slog.Logger
}

// Run is one finished run.
type Run struct {
	// Now is the time the run retired up to: links that expired at or
	// before it.
	Now time.Time
	// Batches is the number of RetireExpired statements that succeeded.
	Batches int
	// Deleted is the number of links retired (and events published).
	Deleted int
	// Backlogged tells that the run stopped early because the producer
	// had no room for a batch's events.
	Backlogged bool
	// CacheErrors counts the links whose L2 entry could not be removed
	// (it then lives until its TTL, which never outlasts the link's
	// expiry).
	CacheErrors int
	// Err is why the run stopped early, nil when it finished; a run that
	// the end of the leadership cancels has the context's error.
	Err error
}

// Cleaner retires expired links while this node leads.
type Cleaner struct {
	store  Store
	cfg    Config
	pace   time.Duration // between batches: 1/Rate
	runner *leader.Runner

	// trace, when set by a test, sees the loop's states (leader.Config.Trace).
	trace func(state string)
}

// New returns a cleaner; Start runs it.
func New(store Store, lead leader.Leadership, cfg Config) (*Cleaner, error) {
	if store == nil || lead == nil {
		return nil, errors.New("cleanup: a cleaner needs a store and a leadership")
	}
	cfg.BatchSize = cmp.Or(cfg.BatchSize, DefaultBatchSize)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.Rate = cmp.Or(cfg.Rate, DefaultRate)
	cfg.BatchTimeout = cmp.Or(cfg.BatchTimeout, DefaultBatchTimeout)
	switch {
	case cfg.BatchSize < 1 || cfg.BatchSize > MaxBatchSize:
		return nil, fmt.Errorf("cleanup: batch size %d is outside 1..%d", cfg.BatchSize, MaxBatchSize)
	case cfg.Interval < 0 || cfg.BatchTimeout < 0:
		return nil, errors.New("cleanup: interval and batch timeout must be positive")
	case !(cfg.Rate > 0) || cfg.Rate > 1000:
		return nil, fmt.Errorf("cleanup: rate %g batches a second is outside (0, 1000]", cfg.Rate)
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
	pace := time.Duration(float64(time.Second) / cfg.Rate)
	c := &Cleaner{store: store, cfg: cfg, pace: pace}
	c.runner = leader.NewRunner(lead, c.runOnce, leader.Config{
		Name:     "cleanup of expired links",
		LogAttrs: []any{"interval", cfg.Interval, "batch_size", cfg.BatchSize, "rate", cfg.Rate},
		After:    cfg.After,
		Logger:   cfg.Logger,
		Trace:    c.tracef,
	})
	return c, nil
}

// Start runs the cleaner in a goroutine until ctx is done or Close is
// called. Only the first call starts it.
func (c *Cleaner) Start(ctx context.Context) { c.runner.Start(ctx) }

// Close stops the cleaner and returns once its goroutine has ended: after
// the batch in flight, if any, has finished. It is idempotent.
func (c *Cleaner) Close() error { return c.runner.Close() }

// runOnce is one run of a lead term: a Clean up to now, then a report; the
// next run is an interval later.
func (c *Cleaner) runOnce(ctx context.Context) time.Duration {
	c.report(ctx, c.Clean(ctx, c.cfg.Now()))
	return c.cfg.Interval
}

// Clean retires the links that expired at or before now, batch after
// batch at the configured rate, until a batch comes back short, ctx is
// done, a batch fails, or the producer has no room for a batch's events.
// A batch that has begun is finished (with its events) even when ctx ends
// meanwhile.
func (c *Cleaner) Clean(ctx context.Context, now time.Time) Run {
	r := Run{Now: now}
	for {
		if ev := c.cfg.Events; ev != nil && ev.Room() < c.cfg.BatchSize {
			r.Backlogged = true
			return r
		}
		n, cacheErrs, err := c.batch(ctx, now)
		if err != nil {
			r.Err = err
			return r
		}
		r.Batches++
		r.Deleted += n
		r.CacheErrors += cacheErrs
		if n < c.cfg.BatchSize {
			return r
		}
		select {
		case <-ctx.Done():
			r.Err = fmt.Errorf("cleanup: cancelled after %d batches: %w", r.Batches, ctx.Err())
			return r
		case <-c.cfg.After(c.pace):
		}
	}
}

// batch retires one batch, publishes its events and clears its L2
// entries. It runs to its end under its own timeout, whatever becomes of
// ctx, and returns the number of links retired and of L2 failures.
func (c *Cleaner) batch(ctx context.Context, now time.Time) (deleted, cacheErrs int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("cleanup: %w", err)
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.BatchTimeout)
	defer cancel()
	gone, err := c.store.RetireExpired(bctx, now, c.cfg.BatchSize)
	if err != nil {
		return 0, 0, fmt.Errorf("cleanup: retire links expired by %s: %w", now.Format(time.RFC3339), err)
	}
	if c.cfg.Events != nil {
		for _, l := range gone {
			c.cfg.Events.Publish(linkevents.NewDeleted(l, linkevents.ReasonExpired, now))
		}
	}
	if c.cfg.Cache != nil {
		for _, l := range gone {
			if err := c.cfg.Cache.Delete(bctx, l.Domain, l.Code); err != nil {
				cacheErrs++
				if cacheErrs == 1 {
					c.cfg.Logger.Warn("cleanup: removing a retired link from the L2 cache failed; it expires there by itself",
						"code", l.Code, "err", err)
				}
			}
		}
	}
	return len(gone), cacheErrs, nil
}

// report logs a run and hands it to OnRun.
func (c *Cleaner) report(ctx context.Context, r Run) {
	log := c.cfg.Logger
	switch {
	case r.Err != nil && ctx.Err() != nil:
		log.Info("cleanup of expired links cancelled", "deleted", r.Deleted, "err", r.Err)
	case r.Err != nil:
		log.Error("cleanup of expired links failed; retrying at the next interval",
			"deleted", r.Deleted, "err", r.Err, "retry_in", c.cfg.Interval)
	case r.Backlogged:
		log.Warn("cleanup of expired links paused: the link-events producer has no room for a batch (is Kafka down?)",
			"deleted", r.Deleted, "retry_in", c.cfg.Interval)
	case r.Deleted > 0:
		log.Info("expired links retired", "retired", r.Deleted, "batches", r.Batches, "cache_errors", r.CacheErrors)
	default:
		log.Debug("no expired links")
	}
	if c.cfg.OnRun != nil {
		c.cfg.OnRun(r)
	}
}

func (c *Cleaner) tracef(state string) {
	if c.trace != nil {
		c.trace(state)
	}
}
