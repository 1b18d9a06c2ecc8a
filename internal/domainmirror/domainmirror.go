// Package domainmirror keeps a mirror of the custom-domain registry in the
// link database (PostgreSQL or SQLite), beside the link store's tables.
//
// The registry itself lives in the control plane's Raft FSM, but the edges
// never call the control plane: they read shared stores. So the leader
// writes the whole registry here with Replace (which bumps a generation
// number when it changed), and every edge keeps it in memory with a
// Watcher that polls the generation, so that resolving a request's host
// costs a map lookup and no I/O.
package domainmirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/genwatch"
	"github.com/shortify/shortify/internal/storedsn"
)

// migrationsTable records the applied versions of this package's
// migrations (numbered in Shortify's one sequence: 0008).
const migrationsTable = "domainmirror_migrations"

// DefaultRefresh is how often a Watcher polls the generation: with the
// leader's own check of the FSM every SyncInterval, a deleted or
// unverified domain stops answering at every edge within about two
// seconds.
const DefaultRefresh = time.Second

// Entry is one registered custom domain as the edges see it.
type Entry struct {
	// Domain is the host name: lower case, no port, no trailing dot.
	Domain string
	// WorkspaceID is the workspace that holds the domain.
	WorkspaceID int64
	// Verified tells whether the edges answer on it.
	Verified bool
	// RootRedirect is where "/" on the domain goes (302); "": a 404.
	RootRedirect string
	// NotFoundRedirect is where an unknown code on it goes (302); "": a 404.
	NotFoundRedirect string
	// RedirectStatus is the status of its links that set none; 0: the
	// edge's default.
	RedirectStatus int
}

// Snapshot is the mirror as stored.
type Snapshot struct {
	// Generation grows with every change of Entries; 0 means never written.
	Generation int64
	// Entries are sorted by domain.
	Entries []Entry
}

// Store is the stored mirror. Implementations are safe for concurrent use.
type Store interface {
	// Generation is the mirror's generation (0: never written): the cheap
	// query that watchers poll.
	Generation(ctx context.Context) (int64, error)
	// Load reads the mirror and its generation in one transaction.
	Load(ctx context.Context) (Snapshot, error)
	// Replace makes entries the whole mirror, writing only the rows that
	// differ, and bumps the generation, unless the entries are those
	// stored already (then nothing is written and changed is false). Of
	// two entries of one domain the first is kept.
	Replace(ctx context.Context, entries []Entry) (generation int64, changed bool, err error)
	// Close releases the connections.
	Close()
}

// Open opens the mirror of the link database dsn (postgres://… or
// sqlite://PATH). migrate applies the schema migrations (the control
// plane does; PostgreSQL edges that only read do not; SQLite always
// does, as the link store).
func Open(ctx context.Context, dsn string, migrate bool) (Store, error) {
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("domainmirror: %w", err)
	}
	switch d.Dialect {
	case storedsn.Postgres:
		return openPostgres(ctx, d.URL, migrate)
	case storedsn.SQLite:
		return openSQLite(ctx, d.Path)
	}
	return nil, errors.New("domainmirror: unsupported DSN")
}

// Normalize sorts entries by domain, keeping the first of each, and
// returns them with their digest. Callers that compare registries (the
// leader's sync) use it too, so that order never counts as a change.
func Normalize(entries []Entry) ([]Entry, string) {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
	out = slices.CompactFunc(out, func(a, b Entry) bool { return a.Domain == b.Domain })
	h := sha256.New()
	for _, e := range out {
		fmt.Fprintf(h, "%s\x00%d\x00%t\x00%s\x00%s\x00%d\n", e.Domain, e.WorkspaceID, e.Verified,
			e.RootRedirect, e.NotFoundRedirect, e.RedirectStatus)
	}
	return out, hex.EncodeToString(h.Sum(nil))
}

// diff is what turns the stored rows into want: the domains to delete
// and the rows to upsert (new or changed).
func diff(stored, want []Entry) (del []string, put []Entry) {
	have := make(map[string]Entry, len(stored))
	for _, e := range stored {
		have[e.Domain] = e
	}
	for _, e := range want {
		if old, ok := have[e.Domain]; !ok || old != e {
			put = append(put, e)
		}
		delete(have, e.Domain)
	}
	for d := range have {
		del = append(del, d)
	}
	slices.Sort(del)
	return del, put
}

// Registry is the verified domains of a snapshot, by domain: what an edge
// answers on. Unverified domains are left out.
type Registry struct {
	gen     int64
	domains map[string]*Entry
}

// NewRegistry indexes the verified entries of snap.
func NewRegistry(snap Snapshot) *Registry {
	r := &Registry{gen: snap.Generation, domains: make(map[string]*Entry)}
	for i := range snap.Entries {
		if e := &snap.Entries[i]; e.Verified {
			r.domains[e.Domain] = e
		}
	}
	return r
}

// Lookup returns the verified domain d (normalised), or nil.
func (r *Registry) Lookup(d string) *Entry {
	if r == nil {
		return nil
	}
	return r.domains[d]
}

// Len is the number of verified domains.
func (r *Registry) Len() int {
	if r == nil {
		return 0
	}
	return len(r.domains)
}

// Generation is the generation the registry was loaded at.
func (r *Registry) Generation() int64 {
	if r == nil {
		return 0
	}
	return r.gen
}

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Open opens the store; called on the first poll and after a failure.
	Open func(ctx context.Context) (Store, error)
	// Every is the time between polls (0: DefaultRefresh).
	Every time.Duration
	// OnError sees every failed poll (nil: ignored); the last registry
	// loaded stays in use.
	OnError func(error)
	// OnLoad sees every registry loaded: its generation and number of
	// verified domains.
	OnLoad func(generation int64, verified int)
}

// Watcher keeps the verified domains in memory (a genwatch.Watcher over
// the Store). Registry is safe to call from any goroutine.
type Watcher struct {
	w *genwatch.Watcher[Registry]
}

// Watch starts a Watcher; it polls at once, then every cfg.Every, until
// Close.
func Watch(cfg WatcherConfig) *Watcher {
	if cfg.Every <= 0 {
		cfg.Every = DefaultRefresh
	}
	return &Watcher{genwatch.Watch(genwatch.Config[Registry]{
		Open: func(ctx context.Context) (genwatch.Source[Registry], error) {
			s, err := cfg.Open(ctx)
			if err != nil {
				return nil, err
			}
			return source{s}, nil
		},
		Every:   cfg.Every,
		OnError: cfg.OnError,
		OnLoad:  cfg.OnLoad,
	})}
}

// source is a Store as a genwatch.Source of the registry.
type source struct{ Store }

func (s source) Load(ctx context.Context) (int64, *Registry, int, error) {
	snap, err := s.Store.Load(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	r := NewRegistry(snap)
	return snap.Generation, r, r.Len(), nil
}

// Registry is the registry now; nil before the first load (Lookup on nil
// finds nothing).
func (w *Watcher) Registry() *Registry {
	if w == nil {
		return nil
	}
	return w.w.Value()
}

// Loaded reports whether the store was read at least once.
func (w *Watcher) Loaded() bool { return w != nil && w.w.Loaded() }

// Poke asks for a poll now rather than at the next tick.
func (w *Watcher) Poke() {
	if w != nil {
		w.w.Poke()
	}
}

// Close stops the polling, waits for it, and closes the store.
func (w *Watcher) Close() { w.w.Close() }
