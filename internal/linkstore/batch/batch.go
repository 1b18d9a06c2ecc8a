// Package batch groups concurrent link creates into multi-row inserts
// (group commit): while one insert is in flight, the creates that arrive
// queue up and go together in the next one. At low load a create goes
// alone and waits for nothing; under load the batches grow by themselves,
// so one node sustains thousands of creates a second with a handful of
// database round trips.
package batch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/linkstore"

	"go.opentelemetry.io/otel/trace"
)

// ErrClosed is returned by Create after Close.
var ErrClosed = errors.New("batch: closed")

// Defaults of Options.
const (
	DefaultMaxBatch = 256
	// DefaultWorkers is 2, not more: each insert in flight takes the
	// creates queued at that moment, so more workers make more, smaller
	// inserts, and PostgreSQL's cost is mostly per statement. Measured
	// with bench/creates (64 clients, local PostgreSQL, 2 cores): 4
	// workers made inserts of ~9 links at ~80 µs of database CPU per
	// create, 2 made ~17 at ~58 µs, 1 made ~28 at ~46 µs; three nodes on
	// one database with 4 workers each sent ~3 links per insert at
	// ~160 µs. Two keep one slow insert from stalling every create.
	DefaultWorkers      = 2
	DefaultFlushTimeout = 10 * time.Second
)

// Inserter is the part of a link store the batcher drives.
type Inserter interface {
	CreateMany(ctx context.Context, links []linkstore.Link) []error
}

// Options tune a Batcher; zero fields take the defaults.
type Options struct {
	// MaxBatch bounds the links in one insert.
	MaxBatch int
	// Workers is how many inserts may be in flight at once (each holds a
	// database connection).
	Workers int
	// FlushTimeout bounds one insert. Inserts run on the batcher's own
	// context, never a request's: one client going away must not fail the
	// creates of the others in its batch.
	FlushTimeout time.Duration
}

type request struct {
	link linkstore.Link
	done chan error
	// span is the creator's span (tracing.go), for the insert's.
	span trace.Span
}

// Batcher groups Create calls into CreateMany calls.
type Batcher struct {
	store Inserter
	opts  Options
	queue chan *request

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

// New starts a batcher over store. Close stops it.
func New(store Inserter, opts Options) *Batcher {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	b := &Batcher{store: store, opts: opts, queue: make(chan *request, opts.MaxBatch*opts.Workers)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// Create inserts l together with whatever other creates are waiting, and
// returns its own result: nil, linkstore.ErrCodeTaken, or another error.
// If ctx ends first, Create returns ctx's error; the insert may still
// happen.
func (b *Batcher) Create(ctx context.Context, l linkstore.Link) error {
	req := &request{link: l, done: make(chan error, 1), span: trace.SpanFromContext(ctx)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.queue <- req:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting creates, finishes the queued ones and waits for
// the workers.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.queue)
	b.mu.Unlock()
	b.wg.Wait()
	b.cancel()
}

// work takes the first waiting create, then everything else already
// queued up to MaxBatch, without waiting for more: the batch is as large
// as the load made it while the previous insert ran.
func (b *Batcher) work() {
	defer b.wg.Done()
	batch := make([]*request, 0, b.opts.MaxBatch)
	links := make([]linkstore.Link, 0, b.opts.MaxBatch)
	for first := range b.queue {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < b.opts.MaxBatch {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		links = links[:0]
		for _, r := range batch {
			links = append(links, r.link)
		}
		b.flush(batch, links)
	}
}

func (b *Batcher) flush(batch []*request, links []linkstore.Link) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.FlushTimeout)
	defer cancel()
	ctx, span := startFlush(ctx, batch) // tracing.go
	errs := b.store.CreateMany(ctx, links)
	endFlush(span, errs)
	for i, r := range batch {
		var err error
		if i < len(errs) {
			err = errs[i]
		} else {
			err = errors.New("batch: the store returned fewer results than links")
		}
		r.done <- err
	}
}
