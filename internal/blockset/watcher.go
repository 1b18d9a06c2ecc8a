package blockset

import (
	"context"
	"time"

	"github.com/shortify/shortify/internal/genwatch"
	"github.com/shortify/shortify/internal/threatlist"
)

// DefaultRefresh is how often a Watcher polls the generation: the bound,
// with the leader's own poll, of "a block reaches every edge within a
// minute".
const DefaultRefresh = 15 * time.Second

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Open opens the store; the watcher calls it on its first poll and
	// again after a failure to open, so that a database down at start
	// delays the set, not the start.
	Open func(ctx context.Context) (Store, error)
	// Every is the time between polls (0: DefaultRefresh).
	Every time.Duration
	// OnError sees every failed poll (nil: ignored); the last set loaded
	// stays in use.
	OnError func(error)
	// OnLoad sees every set loaded: its generation and size.
	OnLoad func(generation int64, entries int)
}

// Watcher keeps the stored block set in memory, reloading it when its
// generation changes (a genwatch.Watcher over the Store). Set is safe to
// call from any goroutine.
type Watcher struct {
	w *genwatch.Watcher[threatlist.Set]
}

// Watch starts a Watcher; it polls at once, then every cfg.Every, until
// Close.
func Watch(cfg WatcherConfig) *Watcher {
	if cfg.Every <= 0 {
		cfg.Every = DefaultRefresh
	}
	return &Watcher{genwatch.Watch(genwatch.Config[threatlist.Set]{
		Open: func(ctx context.Context) (genwatch.Source[threatlist.Set], error) {
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

// source is a Store as a genwatch.Source of the set.
type source struct{ Store }

func (s source) Load(ctx context.Context) (int64, *threatlist.Set, int, error) {
	snap, err := s.Store.Load(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	var set *threatlist.Set
	if len(snap.Entries) > 0 {
		set = threatlist.NewSet(snap.Entries)
	}
	return snap.Generation, set, len(snap.Entries), nil
}

// Set is the block set now, or nil when it is empty (or not loaded yet):
// the caller's whole per-request cost when nothing is blocked.
func (w *Watcher) Set() *threatlist.Set {
	if w == nil {
		return nil
	}
	return w.w.Value()
}

// Poke asks for a poll now rather than at the next tick, without
// waiting for it: the leader's node pokes its own watcher after writing
// a new generation, so that its create checks need not wait a whole
// interval for what it just wrote (at start, that interval let listed
// targets through).
func (w *Watcher) Poke() {
	if w == nil {
		return
	}
	w.w.Poke()
}

// Close stops the polling, waits for it, and closes the store.
func (w *Watcher) Close() { w.w.Close() }
