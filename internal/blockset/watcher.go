package blockset

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

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
// generation changes. Set is safe to call from any goroutine.
type Watcher struct {
	cfg    WatcherConfig
	set    atomic.Pointer[threatlist.Set]
	gen    int64 // the generation of set; the poll goroutine's
	store  Store
	poke   chan struct{} // a poll now, before the next tick (Poke)
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Watch starts a Watcher; it polls at once, then every cfg.Every, until
// Close.
func Watch(cfg WatcherConfig) *Watcher {
	if cfg.Every <= 0 {
		cfg.Every = DefaultRefresh
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{cfg: cfg, cancel: cancel, done: make(chan struct{}), poke: make(chan struct{}, 1)}
	go w.run(ctx)
	return w
}

// Set is the block set now, or nil when it is empty (or not loaded yet):
// the caller's whole per-request cost when nothing is blocked.
func (w *Watcher) Set() *threatlist.Set {
	if w == nil {
		return nil
	}
	return w.set.Load()
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
	select {
	case w.poke <- struct{}{}:
	default: // a poll is already asked for
	}
}

// Close stops the polling, waits for it, and closes the store.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.cancel()
		<-w.done
		if w.store != nil {
			w.store.Close()
		}
	})
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.cfg.Every)
	defer t.Stop()
	for {
		if err := w.poll(ctx); err != nil && ctx.Err() == nil && w.cfg.OnError != nil {
			w.cfg.OnError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.poke:
		}
	}
}

// poll reloads the set when its generation moved.
func (w *Watcher) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(w.cfg.Every, 30*time.Second))
	defer cancel()
	if w.store == nil {
		s, err := w.cfg.Open(ctx)
		if err != nil {
			return err
		}
		w.store = s
	}
	gen, err := w.store.Generation(ctx)
	if err != nil || gen == w.gen {
		return err
	}
	snap, err := w.store.Load(ctx)
	if err != nil {
		return err
	}
	var set *threatlist.Set
	if len(snap.Entries) > 0 {
		set = threatlist.NewSet(snap.Entries)
	}
	w.set.Store(set)
	w.gen = snap.Generation
	if w.cfg.OnLoad != nil {
		w.cfg.OnLoad(snap.Generation, len(snap.Entries))
	}
	return nil
}
