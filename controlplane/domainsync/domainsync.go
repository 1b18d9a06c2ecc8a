// Package domainsync keeps the custom-domain registry's mirror in the link
// database (package domainmirror) equal to the registry in the Raft FSM,
// while this node leads.
//
// The edges never call the control plane; they read the mirror. So a
// domain deleted or no longer verified must leave the mirror quickly: the
// leader compares the FSM's registry with what it last wrote every
// Interval (an in-memory comparison: no database query when nothing
// changed) and writes the difference when it moved, and writes it at the
// start of every lead term (Replace writes nothing when the mirror is
// already equal), which also repairs a mirror a former leader left behind.
package domainsync

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/domainmirror"
)

// DefaultInterval is the time between two comparisons of the registry
// with the mirror: with the edges' poll (domainmirror.DefaultRefresh), a
// deleted domain stops answering everywhere within about a second and a
// half.
const DefaultInterval = 250 * time.Millisecond

// retryAfter is the wait after a failed write.
const retryAfter = time.Second

// Registry is what the FSM tells of the custom domains (cluster.Node).
// A workspace holding domains cannot be deleted, so the domains of every
// workspace are every domain.
type Registry interface {
	Workspaces() []fsm.Workspace
	WorkspaceDomains(ws int64) []fsm.DomainEntry
}

// Config configures a Syncer.
type Config struct {
	// Registry is the FSM's registry; required.
	Registry Registry
	// Store is the mirror; required. The Syncer does not close it.
	Store domainmirror.Store
	// Interval is the time between comparisons (0: DefaultInterval).
	Interval time.Duration
	// Written, when set, is called after a write that changed the mirror.
	Written func(generation int64)
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// After is the leader runner's timer (nil: time.After); for tests.
	After func(time.Duration) <-chan time.Time
}

// Syncer runs the sync while this node leads.
type Syncer struct {
	cfg    Config
	runner *leader.Runner
	// The rest belongs to the runner's goroutine.
	term    context.Context // the lead term written belongs to
	written []domainmirror.Entry
	synced  bool // written is what the mirror holds
}

// New returns a Syncer of cfg that runs while lead says this node leads;
// Start starts it.
func New(lead leader.Leadership, cfg Config) (*Syncer, error) {
	if cfg.Registry == nil || cfg.Store == nil {
		return nil, errors.New("domainsync: a registry and a store are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Syncer{cfg: cfg}
	s.runner = leader.NewRunner(lead, s.work, leader.Config{
		Name:     "custom domain mirror",
		LogAttrs: []any{"interval", cfg.Interval},
		After:    cfg.After,
		Logger:   cfg.Logger,
	})
	return s, nil
}

// Start runs the syncer until ctx is done or Close.
func (s *Syncer) Start(ctx context.Context) { s.runner.Start(ctx) }

// Close stops it and waits for a write in progress.
func (s *Syncer) Close() error { return s.runner.Close() }

// work is one run of a lead term.
func (s *Syncer) work(ctx context.Context) time.Duration {
	if s.term != ctx { // a new lead term: write once whatever we think
		s.term, s.written, s.synced = ctx, nil, false
	}
	if err := s.Sync(ctx); err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Error("custom domain mirror not written; edges keep the last one", "err", err)
		}
		return retryAfter
	}
	return s.cfg.Interval
}

// Sync writes the registry to the mirror unless it equals what this
// Syncer wrote last.
func (s *Syncer) Sync(ctx context.Context) error {
	want, _ := domainmirror.Normalize(Entries(s.cfg.Registry))
	if s.synced && slices.Equal(want, s.written) {
		return nil
	}
	gen, changed, err := s.cfg.Store.Replace(ctx, want)
	if err != nil {
		return err
	}
	s.written, s.synced = want, true
	if changed {
		s.cfg.Logger.Info("custom domain mirror written", "generation", gen, "domains", len(want))
		if s.cfg.Written != nil {
			s.cfg.Written(gen)
		}
	}
	return nil
}

// Entries are the registry's domains as mirror entries (unverified ones
// too: the edges leave them out, and the mirror stays a faithful copy).
func Entries(r Registry) []domainmirror.Entry {
	var out []domainmirror.Entry
	for _, w := range r.Workspaces() {
		for _, d := range r.WorkspaceDomains(w.ID) {
			out = append(out, EntryOf(d))
		}
	}
	return out
}

// EntryOf is the mirror entry of one FSM record.
func EntryOf(d fsm.DomainEntry) domainmirror.Entry {
	return domainmirror.Entry{
		Domain:           d.Domain,
		WorkspaceID:      d.Workspace,
		Verified:         d.Verified,
		RootRedirect:     d.Settings.RootRedirect,
		NotFoundRedirect: d.Settings.NotFoundRedirect,
		RedirectStatus:   d.Settings.RedirectStatus,
	}
}
