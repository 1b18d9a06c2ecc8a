// Package clicktotals copies links' all-time click totals from the stats
// database onto the links in the link database (linkstore.Link.Clicks),
// while this node leads, so that the link listing shows them and sorts by
// them (GET /api/v1/links?sort=clicks) without reading the stats
// database, which may be another database.
//
// A pass must not rescan every link: the stats rows carry no time of
// change, so the job reads the hourly buckets at or after its last pass
// (less an overlap that covers the ingest's lag, rounded down to the
// hour), keeps what it read in memory, and takes a link as changed when
// one of its buckets is new or holds other clicks than at the previous
// pass. Only those links' all-time totals are summed from the daily table
// and written (Store.SetClicks, in batches), and the store writes only the
// rows whose totals moved. A pass therefore costs about the links clicked
// in the last hour or two, whatever the number of links.
//
// A full pass (every link with statistics) runs at the start of every lead
// term and every FullEvery: it repairs what a previous leader left and
// what the incremental passes cannot see (clicks that the ingest wrote
// later than the overlap, for an hour before the window).
package clicktotals

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/linkstore"
	statsapi "github.com/shortify/shortify/stats/api"
)

// Defaults of Config.
const (
	// DefaultInterval is the time between two passes.
	DefaultInterval = 30 * time.Second
	// DefaultOverlap is how far before the last pass a pass reads the
	// hourly buckets again: the ingest's lag that it covers.
	DefaultOverlap = 10 * time.Minute
	// DefaultFullEvery is the time between two full passes of one lead
	// term.
	DefaultFullEvery = 24 * time.Hour
	// DefaultBatch is the most links of one SetClicks.
	DefaultBatch = 1000
)

// retryAfter is the wait after a failed pass (at most the interval).
const retryAfter = 5 * time.Second

// Source is what the job reads of the stats database
// (statsapi.TotalsReader).
type Source interface {
	RecentBuckets(ctx context.Context, since time.Time, fn func(statsapi.LinkBucket) error) error
	LinkTotals(ctx context.Context, links []statsapi.StatsLink) ([]statsapi.LinkTotal, error)
	AllLinkTotals(ctx context.Context, fn func(statsapi.LinkTotal) error) error
}

// Sink is what the job writes to (linkstore.Store).
type Sink interface {
	SetClicks(ctx context.Context, totals []linkstore.ClickTotal) (int64, error)
}

// Config configures a Job.
type Config struct {
	// Source and Store are required; the Job closes neither.
	Source Source
	Store  Sink
	// Interval is the time between passes (0: DefaultInterval).
	Interval time.Duration
	// Overlap (0: DefaultOverlap), FullEvery (0: DefaultFullEvery) and
	// Batch (0: DefaultBatch) are as their defaults say.
	Overlap   time.Duration
	FullEvery time.Duration
	Batch     int
	// Metrics counts the passes (nil: nothing).
	Metrics *Metrics
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// Now (nil: time.Now), After (nil: time.After) and Trace (the
	// runner's states, leader.Config.Trace) are for tests.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	Trace func(state string)
}

// bucketKey is one link's hourly bucket.
type bucketKey struct {
	link   statsapi.StatsLink
	bucket int64 // Unix microseconds
}

// Job runs the passes while this node leads.
type Job struct {
	cfg    Config
	runner *leader.Runner
	// The rest belongs to the runner's goroutine.
	term     context.Context
	lastPass time.Time // start of the last pass that succeeded
	lastFull time.Time
	seen     map[bucketKey]int64
}

// New returns a Job of cfg that runs while lead says this node leads;
// Start starts it.
func New(lead leader.Leadership, cfg Config) (*Job, error) {
	if cfg.Source == nil || cfg.Store == nil {
		return nil, errors.New("clicktotals: a source and a store are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.FullEvery <= 0 {
		cfg.FullEvery = DefaultFullEvery
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	j := &Job{cfg: cfg}
	j.runner = leader.NewRunner(lead, j.work, leader.Config{
		Name:     "click totals",
		LogAttrs: []any{"interval", cfg.Interval, "overlap", cfg.Overlap, "full_every", cfg.FullEvery},
		After:    cfg.After,
		Logger:   cfg.Logger,
		Trace:    cfg.Trace,
	})
	return j, nil
}

// Start runs the job until ctx is done or Close.
func (j *Job) Start(ctx context.Context) { j.runner.Start(ctx) }

// Close stops it and waits for a pass in progress.
func (j *Job) Close() error { return j.runner.Close() }

// work is one run of a lead term.
func (j *Job) work(ctx context.Context) time.Duration {
	if j.term != ctx { // a new lead term: start with a full pass
		j.term, j.lastPass, j.lastFull, j.seen = ctx, time.Time{}, time.Time{}, nil
	}
	if _, err := j.Pass(ctx); err != nil {
		if ctx.Err() == nil {
			j.cfg.Logger.Error("click totals not refreshed; links keep their last totals", "err", err)
		}
		return min(retryAfter, j.cfg.Interval)
	}
	return j.cfg.Interval
}

// Pass runs one pass, full when none has run yet (on this Job, or in
// the lead term when the runner calls it) or FullEvery has passed since
// the last full one, and returns how many links' totals changed.
func (j *Job) Pass(ctx context.Context) (updated int64, err error) {
	start := j.cfg.Now()
	full := j.lastFull.IsZero() || start.Sub(j.lastFull) >= j.cfg.FullEvery
	defer func() { j.cfg.Metrics.pass(full, j.cfg.Now().Sub(start), updated, err) }()
	since := start
	if !full {
		since = j.lastPass
	}
	since = since.Add(-j.cfg.Overlap).UTC().Truncate(time.Hour)

	// The buckets first, the totals after: a click written in between is
	// in the totals and shows as a changed bucket at the next pass.
	seen := make(map[bucketKey]int64, len(j.seen))
	var changed []statsapi.StatsLink
	marked := make(map[statsapi.StatsLink]bool)
	err = j.cfg.Source.RecentBuckets(ctx, since, func(b statsapi.LinkBucket) error {
		k := bucketKey{b.StatsLink, b.Bucket.UnixMicro()}
		seen[k] = b.Clicks
		if old, ok := j.seen[k]; (!ok || old != b.Clicks) && !marked[b.StatsLink] {
			marked[b.StatsLink] = true
			changed = append(changed, b.StatsLink)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if full {
		updated, err = j.full(ctx)
	} else {
		updated, err = j.incremental(ctx, changed)
	}
	if err != nil {
		return updated, err
	}
	j.seen, j.lastPass = seen, start
	if full {
		j.lastFull = start
	}
	return updated, nil
}

// incremental writes the totals of the changed links, in batches.
func (j *Job) incremental(ctx context.Context, changed []statsapi.StatsLink) (int64, error) {
	var updated int64
	for len(changed) > 0 {
		n := min(len(changed), j.cfg.Batch)
		totals, err := j.cfg.Source.LinkTotals(ctx, changed[:n])
		if err != nil {
			return updated, err
		}
		u, err := j.write(ctx, totals)
		updated += u
		if err != nil {
			return updated, err
		}
		changed = changed[n:]
	}
	return updated, nil
}

// full writes every link's totals, in batches as they are read.
func (j *Job) full(ctx context.Context) (int64, error) {
	var updated int64
	batch := make([]statsapi.LinkTotal, 0, j.cfg.Batch)
	flush := func() error {
		u, err := j.write(ctx, batch)
		updated += u
		batch = batch[:0]
		return err
	}
	err := j.cfg.Source.AllLinkTotals(ctx, func(t statsapi.LinkTotal) error {
		if batch = append(batch, t); len(batch) == j.cfg.Batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return updated, err
}

// write stores totals on the links.
func (j *Job) write(ctx context.Context, totals []statsapi.LinkTotal) (int64, error) {
	if len(totals) == 0 {
		return 0, nil
	}
	out := make([]linkstore.ClickTotal, 0, len(totals))
	for _, t := range totals {
		// Humans within [0, clicks]: a damaged row must not fail the
		// batch (CheckClickTotals).
		clicks := max(t.Clicks, 0)
		out = append(out, linkstore.ClickTotal{LinkID: t.LinkID, Code: t.Code, Clicks: clicks, Humans: min(max(t.Humans, 0), clicks)})
	}
	return j.cfg.Store.SetClicks(ctx, out)
}
