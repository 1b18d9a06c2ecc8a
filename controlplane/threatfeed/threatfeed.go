// Package threatfeed is the Raft leader's refresh of the shared block set.
//
// While this node leads, a Refresher reads the configured threat feeds
// (files, or https URLs) at the start of the leadership and then every
// Refresh, merges them with the admin domain blocklist (replicated by
// Raft, read every Poll), and writes the result to the link database
// (blockset.Store.Replace), which bumps the set's generation when it
// changed. Every edge and control-plane node polls that generation
// (blockset.Watcher): nothing here talks to them.
//
// A feed that fails to load keeps its last good entries (logged and
// counted); a feed that never loaded contributes nothing. When a write adds
// entries, the links already pointing at them are flagged for review,
// found through the link store's host index.
package threatfeed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/threatlist"
)

// Defaults of Config.
const (
	// DefaultRefresh is the time between reads of the feeds.
	DefaultRefresh = 30 * time.Minute
	// DefaultPoll is the time between checks of the admin blocklist.
	DefaultPoll = blockset.DefaultRefresh
	// FetchTimeout bounds reading one feed.
	FetchTimeout = 2 * time.Minute
	// MaxFeedBytes bounds what is read of one feed.
	MaxFeedBytes = 512 << 20
	// MaxFlagLinks bounds the links flagged for one new entry, and
	// MaxFlagEntries the new entries looked up in one write: a feed that
	// lists a million new URLs at once must not stall the leader.
	MaxFlagLinks   = 10_000
	MaxFlagEntries = 10_000
)

// AdminSource is the source name of the admin domain blocklist's entries.
const AdminSource = blockset.AdminSource

// Feed is one configured threat feed.
type Feed struct {
	// Name names the feed in reasons, logs and metrics.
	Name string
	// Format is the feed's syntax.
	Format threatlist.Format
	// Location is a file path or an https:// URL.
	Location string
}

// IsURL reports whether the feed is fetched over HTTPS (else it is a file).
func (f Feed) IsURL() bool { return strings.HasPrefix(f.Location, "https://") }

// Links finds the links to a host; every linkstore.Store does.
type Links interface {
	List(ctx context.Context, q linkstore.ListQuery) ([]linkstore.Link, error)
}

// Config configures a Refresher.
type Config struct {
	Feeds []Feed
	// Refresh is the time between reads of the feeds (0: DefaultRefresh).
	Refresh time.Duration
	// Poll is the time between checks of the admin blocklist, the longest
	// a blocked domain waits to reach the shared set (0: DefaultPoll).
	Poll time.Duration
	// MaxEntries caps each feed (0: threatlist.DefaultMaxEntries).
	MaxEntries int
	// Admin lists the admin blocklist's domains (nil: none).
	Admin func() []string
	// Store is where the merged set goes; required.
	Store blockset.Store
	// Links finds links to flag (nil: no flags).
	Links Links
	// Written, when set, is called after each new generation is written
	// (this node's own watcher reloads at once rather than at its next
	// poll).
	Written func()
	// Client fetches https feeds (nil: a client with FetchTimeout).
	Client *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// Metrics receives the feeds' counts (nil: none).
	Metrics *Metrics
	// After is the leader runner's timer (nil: time.After); for tests.
	After func(time.Duration) <-chan time.Time
}

// feedState is the last good read of a feed.
type feedState struct {
	entries []threatlist.Entry
	tried   time.Time // the last attempt, good or not
}

// Refresher runs the refresh while this node leads.
type Refresher struct {
	cfg    Config
	runner *leader.Runner
	// The rest belongs to the runner's goroutine.
	term  context.Context // the lead term the state below belongs to
	feeds map[string]*feedState
	known map[threatlist.Entry]bool // the entries of the last set written or read
}

// New returns a Refresher of cfg that runs while lead says this node
// leads; Start starts it.
func New(lead leader.Leadership, cfg Config) (*Refresher, error) {
	if cfg.Store == nil {
		return nil, errors.New("threatfeed: a store is required")
	}
	cfg.Refresh = cmp.Or(cfg.Refresh, DefaultRefresh)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: FetchTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Refresher{cfg: cfg}
	r.runner = leader.NewRunner(lead, r.work, leader.Config{
		Name:     "threat feed refresh",
		LogAttrs: []any{"feeds", len(cfg.Feeds), "refresh", cfg.Refresh, "poll", cfg.Poll},
		After:    cfg.After,
		Logger:   cfg.Logger,
	})
	return r, nil
}

// Start runs the refresher until ctx is done or Close.
func (r *Refresher) Start(ctx context.Context) { r.runner.Start(ctx) }

// Close stops it and waits for a refresh in progress.
func (r *Refresher) Close() error { return r.runner.Close() }

// work is one run of a lead term: the feeds that are due, then the write.
func (r *Refresher) work(ctx context.Context) time.Duration {
	if r.term != ctx { // a new lead term: read everything afresh
		r.term, r.feeds, r.known = ctx, make(map[string]*feedState), nil
	}
	if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
		r.cfg.Logger.Error("threat feed refresh failed; the shared set stays as it was", "err", err)
	}
	return r.cfg.Poll
}

// Refresh reads the feeds that are due, merges them with the admin
// blocklist, writes the set when it changed, and flags the links to new
// entries. Feeds failing are logged and keep their last entries; only a
// failure to read or write the store is returned.
func (r *Refresher) Refresh(ctx context.Context) error {
	if r.feeds == nil {
		r.feeds = make(map[string]*feedState)
	}
	if r.known == nil {
		snap, err := r.cfg.Store.Load(ctx)
		if err != nil {
			return err
		}
		r.known = make(map[threatlist.Entry]bool, len(snap.Entries))
		for _, e := range snap.Entries {
			r.known[e.Entry] = true
		}
	}
	now := r.cfg.Now()
	for _, f := range r.cfg.Feeds {
		st := r.feeds[f.Name]
		if st == nil {
			st = &feedState{}
			r.feeds[f.Name] = st
		}
		if !st.tried.IsZero() && now.Sub(st.tried) < r.cfg.Refresh {
			continue
		}
		st.tried = now
		l, err := r.read(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.cfg.Logger.Warn("threat feed not read; its last good list stays", "feed", f.Name, "err", err)
			r.cfg.Metrics.failed(f.Name)
			continue
		}
		if l.Truncated {
			r.cfg.Logger.Warn("threat feed has more entries than the cap; the rest is ignored", "feed", f.Name, "kept", len(l.Entries))
		}
		st.entries = l.Entries
		r.cfg.Metrics.loaded(f.Name, len(l.Entries), now)
		r.cfg.Logger.Debug("threat feed read", "feed", f.Name, "entries", len(l.Entries), "skipped", l.Skipped)
	}
	merged := r.merge()
	gen, changed, err := r.cfg.Store.Replace(ctx, merged)
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	var added []threatlist.Sourced
	known := make(map[threatlist.Entry]bool, len(merged))
	for _, e := range merged {
		if !r.known[e.Entry] && !known[e.Entry] {
			added = append(added, e)
		}
		known[e.Entry] = true
	}
	r.known = known
	r.cfg.Logger.Info("shared block set written", "generation", gen, "entries", len(known), "new", len(added))
	if r.cfg.Written != nil {
		r.cfg.Written()
	}
	return r.flag(ctx, added)
}

// merge is the admin blocklist first, then the feeds in configured order:
// an entry on several lists is reported as the first one's.
func (r *Refresher) merge() []threatlist.Sourced {
	var out []threatlist.Sourced
	if r.cfg.Admin != nil {
		for _, d := range r.cfg.Admin() {
			if h, ok := threatlist.NormaliseHost(d); ok {
				out = append(out, threatlist.Sourced{Entry: threatlist.Entry{Kind: threatlist.Host, Value: h}, Source: AdminSource})
			}
		}
	}
	for _, f := range r.cfg.Feeds {
		for _, e := range r.feeds[f.Name].entries {
			out = append(out, threatlist.Sourced{Entry: e, Source: f.Name})
		}
	}
	return out
}

// read loads one feed from its file or URL.
func (r *Refresher) read(ctx context.Context, f Feed) (threatlist.List, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	var body io.ReadCloser
	if f.IsURL() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Location, nil)
		if err != nil {
			return threatlist.List{}, err
		}
		req.Header.Set("User-Agent", "Shortify threat feed refresh")
		resp, err := r.cfg.Client.Do(req)
		if err != nil {
			// Without the URL, which may hold a key (PhishTank's).
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return threatlist.List{}, fmt.Errorf("fetch: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return threatlist.List{}, fmt.Errorf("fetch: the server answered %s", resp.Status)
		}
		body = resp.Body
	} else {
		file, err := os.Open(f.Location)
		if err != nil {
			return threatlist.List{}, err
		}
		body = file
	}
	defer body.Close()
	return threatlist.Parse(io.LimitReader(body, MaxFeedBytes), f.Format, r.cfg.MaxEntries)
}
