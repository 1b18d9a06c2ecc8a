// Package genwatch keeps a value that lives in a shared database in
// memory, reloading it when its generation number moves. It is the one
// poll loop of the shared sets that the control plane's leader writes and
// every edge and node reads without talking to the leader: the block set
// (package blockset) and the custom-domain registry (package
// domainmirror). The per-request cost of reading the value is an atomic
// load.
package genwatch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Source is an opened store of one generation-numbered value.
type Source[T any] interface {
	// Generation is the value's generation (0: never written): the cheap
	// query that is polled.
	Generation(ctx context.Context) (int64, error)
	// Load reads the value with its generation (in one transaction), and
	// its size for the logs; a nil value means empty.
	Load(ctx context.Context) (gen int64, v *T, size int, err error)
	// Close releases the connections.
	Close()
}

// Config configures a Watcher.
type Config[T any] struct {
	// Open opens the source; the watcher calls it on its first poll and
	// again after a failure to open, so that a database down at start
	// delays the value, not the start.
	Open func(ctx context.Context) (Source[T], error)
	// Every is the time between polls; it must be positive.
	Every time.Duration
	// OnError sees every failed poll (nil: ignored); the last value loaded
	// stays in use.
	OnError func(error)
	// OnLoad sees every value loaded: its generation and size.
	OnLoad func(generation int64, size int)
}

// Watcher keeps the stored value in memory. Value is safe to call from
// any goroutine.
type Watcher[T any] struct {
	cfg    Config[T]
	val    atomic.Pointer[T]
	loaded atomic.Bool
	gen    int64 // the generation of val; the poll goroutine's
	src    Source[T]
	poke   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Watch starts a Watcher: it polls at once, then every cfg.Every, until
// Close.
func Watch[T any](cfg Config[T]) *Watcher[T] {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher[T]{cfg: cfg, cancel: cancel, done: make(chan struct{}), poke: make(chan struct{}, 1)}
	go w.run(ctx)
	return w
}

// Value is the value now, or nil when it is empty or not loaded yet.
func (w *Watcher[T]) Value() *T {
	if w == nil {
		return nil
	}
	return w.val.Load()
}

// Loaded reports whether a poll has read the store at least once (an
// empty store counts), so that a caller can tell "empty" from "not known
// yet".
func (w *Watcher[T]) Loaded() bool { return w != nil && w.loaded.Load() }

// Poke asks for a poll now rather than at the next tick, without waiting
// for it.
func (w *Watcher[T]) Poke() {
	if w == nil {
		return
	}
	select {
	case w.poke <- struct{}{}:
	default: // a poll is already asked for
	}
}

// Close stops the polling, waits for it, and closes the source.
func (w *Watcher[T]) Close() {
	w.once.Do(func() {
		w.cancel()
		<-w.done
		if w.src != nil {
			w.src.Close()
		}
	})
}

func (w *Watcher[T]) run(ctx context.Context) {
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

// poll reloads the value when its generation moved.
func (w *Watcher[T]) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(w.cfg.Every, 30*time.Second))
	defer cancel()
	if w.src == nil {
		s, err := w.cfg.Open(ctx)
		if err != nil {
			return err
		}
		w.src = s
	}
	gen, err := w.src.Generation(ctx)
	if err != nil {
		return err
	}
	if gen == w.gen {
		w.loaded.Store(true)
		return nil
	}
	gen, v, n, err := w.src.Load(ctx)
	if err != nil {
		return err
	}
	w.val.Store(v)
	w.gen = gen
	w.loaded.Store(true)
	if w.cfg.OnLoad != nil {
		w.cfg.OnLoad(gen, n)
	}
	return nil
}
