package clickevents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkaprod"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/tracing"
)

// Defaults of Config.
const (
	DefaultClientID           = "shortify-edge"
	DefaultMaxBufferedRecords = 100_000
	DefaultMaxBufferedBytes   = 32 << 20
	DefaultLinger             = 10 * time.Millisecond
	DefaultCompression        = "lz4"
	DefaultRecordTimeout      = 10 * time.Second
	DefaultLogEvery           = 10 * time.Second
)

// Config configures an Emitter.
type Config struct {
	// Brokers are the seed brokers, host:port (at least one).
	Brokers []string
	// Topic is the clicks topic (default DefaultTopic). It must exist:
	// the emitter does not create it.
	Topic string
	// ClientID names the client to the brokers (default DefaultClientID).
	ClientID string
	// Security is how the client authenticates to the brokers and
	// encrypts its connections (TLS, SASL); the zero value is plaintext.
	Security kafkasec.Config
	// MaxBufferedRecords bounds the events accepted but not yet
	// delivered (default DefaultMaxBufferedRecords); Emit drops more.
	MaxBufferedRecords int
	// MaxBufferedBytes bounds their encoded size (default
	// DefaultMaxBufferedBytes): user agents and referrers are up to 1.5
	// KiB, so records alone would not bound memory.
	MaxBufferedBytes int
	// Linger is how long a partition's batch waits for more events
	// before it is sent (default DefaultLinger; negative: not at all).
	Linger time.Duration
	// Compression of batches: lz4 (default), zstd, snappy, gzip or none.
	// The client falls back to no compression when the broker refuses it.
	// lz4 because the edge is CPU-bound: on a batch of typical events
	// (BenchmarkCompression) it takes 194 bytes an event down to 46 for
	// about 180 ns of CPU an event, where zstd reaches 40 bytes for about
	// 760 ns; the random parts of an event (code, IDs, visitor hash)
	// are most of what remains, in any codec.
	Compression string
	// RecordTimeout bounds how long an event may wait for Kafka (default
	// DefaultRecordTimeout): a broker that is down turns the buffer into
	// failures at this pace instead of holding it (and Close) forever.
	// The client measures it from the record timestamp, which is the
	// event time: an event emitted with a Time older than this fails.
	// The idempotent producer enforces it only where that is safe: not
	// on a batch sent whose answer never came, until the connection
	// fails.
	RecordTimeout time.Duration
	// Logger receives the client's warnings and, at most once per
	// LogEvery, a warning about dropped or failed events (nil: nothing is
	// logged). The edge passes its zap logger through zapslog.
	Logger *slog.Logger
	// LogEvery is the least time between two warnings about dropped or
	// failed events (default DefaultLogEvery).
	LogEvery time.Duration
}

// EmitterStats are an emitter's counts since it started. Every Emit call
// counts once, in Emitted (it returned true) or in Dropped (false); every
// emitted event ends, exactly once, in Produced or Failed, and is in
// Queued until then. So at any time Emitted = Produced + Failed + the
// events in flight, and after Close, Emitted = Produced + Failed.
type EmitterStats struct {
	// Emitted events were accepted by Emit.
	Emitted uint64
	// Produced events were acknowledged by Kafka.
	Produced uint64
	// Dropped events were refused by Emit: the buffer was full, the
	// emitter closed, or the event did not encode (ErrInvalid).
	Dropped uint64
	// Failed events were accepted but not delivered: Kafka refused them,
	// RecordTimeout passed, or Close gave up on them.
	Failed uint64
	// Queued events are accepted and wait for Kafka now.
	Queued int64
	// QueuedBytes is their encoded size.
	QueuedBytes int64
}

// Emitter sends click events to Kafka without ever making the caller
// wait: Emit encodes the event and hands it to a franz-go client with
// TryProduce under the emitter's own long-lived context, never a
// request's. The client batches, compresses and sends in the background;
// a buffer full because Kafka is slow or down drops events and counts
// them. Records are keyed by code (Kafka's murmur2 partitioning of the
// key, so a code's clicks share a partition) and stamped with the event
// time; the producer is idempotent (franz-go's default), so a retried
// batch is written once. It is safe for concurrent use.
type Emitter struct {
	cfg    Config
	client *kgo.Client
	// ctx is the emitter's own context for every record, canceled by
	// Close once the client is closed.
	ctx    context.Context
	cancel context.CancelFunc

	// mu orders Emit against Close: Emit holds it shared while it hands
	// a record over, Close exclusively while it marks the emitter
	// closed, so that no record is handed over (nor pending.Add called)
	// after Close begins.
	mu      sync.RWMutex
	closed  bool
	pending sync.WaitGroup
	// closeDone is closed when the first Close has finished.
	closeDone chan struct{}

	emitted, produced, dropped, failed atomic.Uint64
	queued, queuedBytes                atomic.Int64
	// lastLog is the time (Unix nanoseconds) of the last warning.
	lastLog atomic.Int64

	// promiseFn is e.promise, bound once: a method value made in each
	// Emit would be an allocation per event.
	promiseFn func(*kgo.Record, error)

	// records recycles records with their value buffers: the promise
	// returns them, so that a steady stream of Emit calls allocates
	// nothing.
	records sync.Pool
}

// NewEmitter returns an emitter for cfg. It does not wait for the
// brokers: the client connects in the background, so a broker that is
// down at start only means the first events wait (and count) like any
// others.
func NewEmitter(cfg Config) (*Emitter, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("clickevents: emitter: no brokers")
	}
	cfg.Topic = cmp.Or(cfg.Topic, DefaultTopic)
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.MaxBufferedRecords = cmp.Or(cfg.MaxBufferedRecords, DefaultMaxBufferedRecords)
	cfg.MaxBufferedBytes = cmp.Or(cfg.MaxBufferedBytes, DefaultMaxBufferedBytes)
	cfg.Linger = cmp.Or(cfg.Linger, DefaultLinger)
	cfg.Compression = cmp.Or(cfg.Compression, DefaultCompression)
	cfg.RecordTimeout = cmp.Or(cfg.RecordTimeout, DefaultRecordTimeout)
	cfg.LogEvery = cmp.Or(cfg.LogEvery, DefaultLogEvery)
	if cfg.MaxBufferedRecords < 1 || cfg.MaxBufferedBytes < MaxSize || cfg.RecordTimeout < 0 || cfg.LogEvery < 0 {
		return nil, fmt.Errorf("clickevents: emitter: max buffered records %d (want at least 1), bytes %d (want at least %d), record timeout %s and log interval %s (want positive)",
			cfg.MaxBufferedRecords, cfg.MaxBufferedBytes, MaxSize, cfg.RecordTimeout, cfg.LogEvery)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client, err := kafkaprod.NewClient(kafkaprod.Config{
		Brokers: cfg.Brokers, ClientID: cfg.ClientID, Topic: cfg.Topic, Security: cfg.Security,
		// The emitter bounds the buffer itself (so that Emit knows at
		// once whether it took the event); the client's bounds are
		// twice as high, a safety net only.
		MaxBufferedRecords: 2 * cfg.MaxBufferedRecords,
		MaxBufferedBytes:   2 * cfg.MaxBufferedBytes,
		Linger:             cfg.Linger,
		Compression:        cfg.Compression,
		RecordTimeout:      cfg.RecordTimeout,
		Logger:             cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("clickevents: emitter: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emitter{cfg: cfg, client: client, ctx: ctx, cancel: cancel, closeDone: make(chan struct{})}
	e.promiseFn = e.promise
	return e, nil
}

// Emit hands ev to the producer and returns at once; it never waits for
// Kafka. It returns false, and counts the event as dropped, when the
// buffer is full, the emitter is closed, or ev does not encode. ev is not
// kept.
func (e *Emitter) Emit(ev *Event) bool { return e.EmitContext(nil, ev) }

// EmitContext is Emit for an event of a request whose context is ctx
// (nil: none): when ctx's span records, the record's publish span joins
// that trace (internal/tracing). The record still lives on the emitter's
// own context, never ctx's cancellation.
func (e *Emitter) EmitContext(ctx context.Context, ev *Event) bool {
	r, _ := e.records.Get().(*kgo.Record)
	if r == nil {
		r = &kgo.Record{Value: make([]byte, 0, 256)}
	}
	if ctx != nil {
		if pc := tracing.WithParent(e.ctx, ctx); pc != e.ctx {
			r.Context = pc // TryProduce keeps a record's own context
		}
	}
	v, codeAt, err := ev.appendBinary(r.Value[:0])
	if err != nil {
		e.recycle(r)
		e.drop(err)
		return false
	}
	r.Value = v
	r.Key = v[codeAt : codeAt+len(ev.Code) : codeAt+len(ev.Code)]
	r.Timestamp = ev.Time
	size := int64(len(v))

	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		e.recycle(r)
		e.drop(errClosed)
		return false
	}
	if n := e.queued.Add(1); n > int64(e.cfg.MaxBufferedRecords) {
		e.queued.Add(-1)
		e.recycle(r)
		e.drop(errFull)
		return false
	}
	if n := e.queuedBytes.Add(size); n > int64(e.cfg.MaxBufferedBytes) {
		e.queuedBytes.Add(-size)
		e.queued.Add(-1)
		e.recycle(r)
		e.drop(errFull)
		return false
	}
	e.emitted.Add(1)
	e.pending.Add(1)
	e.client.TryProduce(e.ctx, r, e.promiseFn)
	return true
}

// Reasons for dropping, for the warning.
var (
	errClosed = errors.New("emitter closed")
	errFull   = errors.New("buffer full")
)

// promise counts an emitted event's outcome. The client calls promises
// one at a time, from its own goroutine.
func (e *Emitter) promise(r *kgo.Record, err error) {
	defer e.pending.Done()
	e.queued.Add(-1)
	e.queuedBytes.Add(-int64(len(r.Value)))
	if err == nil {
		e.produced.Add(1)
	} else {
		n := e.failed.Add(1)
		if e.mayLog() {
			e.cfg.Logger.Warn("click events failed", "topic", e.cfg.Topic, "err", err, "failed_total", n)
		}
	}
	e.recycle(r)
}

// recycle returns r to the pool, unless its buffer grew large (a
// maximal event): a pool of such buffers would hold memory for nothing.
func (e *Emitter) recycle(r *kgo.Record) {
	if cap(r.Value) > 1024 {
		return
	}
	*r = kgo.Record{Value: r.Value[:0]}
	e.records.Put(r)
}

// drop counts an event Emit refused and warns, at most once per LogEvery.
func (e *Emitter) drop(why error) {
	n := e.dropped.Add(1)
	if e.mayLog() {
		e.cfg.Logger.Warn("click events dropped", "topic", e.cfg.Topic, "why", why,
			"max_buffered_records", e.cfg.MaxBufferedRecords, "dropped_total", n)
	}
}

// mayLog reports whether a warning may be logged now: at most one per
// LogEvery, whichever goroutine gets there first.
func (e *Emitter) mayLog() bool {
	now := time.Now().UnixNano()
	last := e.lastLog.Load()
	return (last == 0 || now-last >= int64(e.cfg.LogEvery)) && e.lastLog.CompareAndSwap(last, now)
}

// Stats returns the counts so far (see EmitterStats). The counters are
// read one after another, so while events flow they need not add up
// exactly; after Close they do.
func (e *Emitter) Stats() EmitterStats {
	return EmitterStats{
		Emitted:     e.emitted.Load(),
		Produced:    e.produced.Load(),
		Dropped:     e.dropped.Load(),
		Failed:      e.failed.Load(),
		Queued:      e.queued.Load(),
		QueuedBytes: e.queuedBytes.Load(),
	}
}

// Topic returns the topic the emitter writes.
func (e *Emitter) Topic() string { return e.cfg.Topic }

// Close stops taking events (Emit drops them from now on), waits until
// the buffered ones are delivered or ctx is done, then closes the client,
// which fails whatever is left. It returns once every event's outcome is
// counted and the client's goroutines have stopped, with an error when
// events were left undelivered. Later calls wait for the first to finish
// (or their ctx) and return nil.
func (e *Emitter) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		select {
		case <-e.closeDone:
		case <-ctx.Done():
		}
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	defer close(e.closeDone)

	flushErr := e.client.Flush(ctx)
	left := e.client.BufferedProduceRecords()
	e.client.Close() // fails what is left with kgo.ErrClientClosed
	e.pending.Wait()
	e.cancel()
	if flushErr != nil {
		return fmt.Errorf("clickevents: emitter: close: %d events not delivered: %w", left, flushErr)
	}
	return nil
}
