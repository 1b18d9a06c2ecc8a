package audit

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Writer writes a batch of entries; *Store implements it.
type Writer interface {
	Insert(ctx context.Context, entries []Entry) error
}

// Defaults of RecorderConfig.
const (
	DefaultBuffer        = 4096
	DefaultBatchSize     = 256
	DefaultFlushInterval = time.Second
	DefaultWriteTimeout  = 5 * time.Second
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Buffer is how many entries wait for their write at most; more are
	// dropped (default DefaultBuffer).
	Buffer int
	// BatchSize is the most entries one insert writes (default
	// DefaultBatchSize).
	BatchSize int
	// FlushInterval is the longest an entry waits for a batch to fill
	// (default DefaultFlushInterval).
	FlushInterval time.Duration
	// WriteTimeout bounds one insert (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Logger receives failed writes (nil: slog.Default()).
	Logger *slog.Logger
}

// Recorder records audit entries without blocking the request that made
// them: Record queues the entry (or drops it, counted, when the queue is
// full) and one goroutine writes the queue in batches. An entry whose
// batch fails to write is dropped and counted too: a database outage must
// not stall or fail the API.
type Recorder struct {
	w       Writer
	cfg     RecorderConfig
	ch      chan Entry
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	mu      sync.RWMutex // held for reading by Record, for writing by Close
	closed  bool
	dropped atomic.Uint64
	written atomic.Uint64
}

// NewRecorder starts a recorder writing to w; Close stops it.
func NewRecorder(w Writer, cfg RecorderConfig) *Recorder {
	cfg.Buffer = cmp.Or(cfg.Buffer, DefaultBuffer)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, DefaultBatchSize)
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, DefaultFlushInterval)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, DefaultWriteTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Recorder{w: w, cfg: cfg, ch: make(chan Entry, cfg.Buffer), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Record queues e for writing; it never blocks.
func (r *Recorder) Record(e Entry) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many entries were lost: queue full, write failed, or
// recorded after Close.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Written is how many entries were written.
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Close writes the queued entries and stops the recorder. It is
// idempotent.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
	})
	<-r.done
}

func (r *Recorder) run() {
	defer close(r.done)
	ticker := time.NewTicker(r.cfg.FlushInterval)
	defer ticker.Stop()
	batch := make([]Entry, 0, r.cfg.BatchSize)
	flush := func() {
		if len(batch) > 0 {
			r.write(batch)
			batch = batch[:0]
		}
	}
	add := func(e Entry) {
		if batch = append(batch, e); len(batch) == r.cfg.BatchSize {
			flush()
		}
	}
	for {
		select {
		case e := <-r.ch:
			add(e)
		case <-ticker.C:
			flush()
		case <-r.stop:
			// Record adds nothing after stop: drain what is queued.
			for {
				select {
				case e := <-r.ch:
					add(e)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (r *Recorder) write(batch []Entry) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.WriteTimeout)
	defer cancel()
	if err := r.w.Insert(ctx, batch); err != nil {
		r.dropped.Add(uint64(len(batch)))
		r.cfg.Logger.Warn("could not write audit entries; they are lost", "entries", len(batch), "err", err)
		return
	}
	r.written.Add(uint64(len(batch)))
}
