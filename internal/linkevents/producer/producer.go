// Package producer publishes link events (package linkevents) to Kafka with
// franz-go, for the control plane: the REST API after an update or a
// delete, the leader's cleanup after it deletes expired links.
//
// Publishing never waits for Kafka. Publish encodes the event and hands it
// to the client with TryProduce, under the producer's own long-lived
// context (never a request's): the client buffers it and sends it in the
// background. When MaxBufferedRecords events or MaxBufferedBytes bytes
// already wait (Kafka is down or slow), the event is dropped at once and
// counted, and a warning is logged at most once per LogEvery. Events that
// Kafka refuses, or that are still buffered when Close gives up, count as
// failed. The counts (Stats) are for metrics.
//
// The client is internal/kafkaprod's, the one producer configuration the
// click emitter shares: idempotent (franz-go's default: a retried batch is
// written once, and the events of a partition stay in order), waiting for
// all in-sync replicas, compressing batches with zstd (lz4 or none when
// the broker refuses it). Records are keyed by code and partitioned by Kafka's murmur2
// hash of the key, so all events of a code are in one partition, in the
// order they were published.
//
// A nil *Producer is valid and publishes nothing: the control plane runs
// without one when no brokers are configured.
package producer

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
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/tracing"
)

// Defaults of Config.
const (
	DefaultClientID           = "shortify-control-plane"
	DefaultMaxBufferedRecords = 10_000
	DefaultMaxBufferedBytes   = 32 << 20
	DefaultCloseTimeout       = 5 * time.Second
	DefaultLogEvery           = 10 * time.Second
)

// Config configures a Producer.
type Config struct {
	// Brokers are the seed brokers, host:port (at least one).
	Brokers []string
	// Topic is the link-events topic (default linkevents.DefaultTopic). It
	// must exist: the producer does not create it.
	Topic string
	// ClientID names the client to the brokers (default DefaultClientID).
	ClientID string
	// Security is how the client authenticates to the brokers and
	// encrypts its connections (TLS, SASL); the zero value is plaintext.
	Security kafkasec.Config
	// MaxBufferedRecords bounds the events waiting for Kafka (default
	// DefaultMaxBufferedRecords); more are dropped.
	MaxBufferedRecords int
	// MaxBufferedBytes bounds their encoded size (default
	// DefaultMaxBufferedBytes).
	MaxBufferedBytes int
	// CloseTimeout bounds how long Close waits for buffered events to be
	// delivered (default DefaultCloseTimeout).
	CloseTimeout time.Duration
	// LogEvery is the least time between two warnings about dropped (or
	// failed) events (default DefaultLogEvery).
	LogEvery time.Duration
	// Logger receives the warnings (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock of the warnings' rate limit (nil: time.Now).
	Now func() time.Time
}

// Stats are a producer's counts since it started.
type Stats struct {
	// Published events were acknowledged by Kafka.
	Published uint64
	// Dropped events found the buffer full (or the producer closed) and
	// were never sent.
	Dropped uint64
	// Failed events were refused by Kafka or could not be encoded, or were
	// still buffered when Close gave up on them.
	Failed uint64
	// Buffered events wait for Kafka now.
	Buffered int64
}

// Producer publishes link events. It is safe for concurrent use.
type Producer struct {
	cfg    Config
	client *kgo.Client
	// ctx is the producer's own context for every record; Close cancels
	// it once the client is closed.
	ctx    context.Context
	cancel context.CancelFunc

	// mu orders Publish against Close: Publish holds it shared while it
	// hands a record over, Close exclusively while it marks the producer
	// closed, so no record is handed over after Close begins.
	mu     sync.RWMutex
	closed bool
	// pending counts the records whose promise has not run; Close waits
	// for it, so the counts are final when Close returns.
	pending sync.WaitGroup

	published, dropped, failed atomic.Uint64
	dropLog, failLog           limiter
}

// New returns a producer for cfg. It does not connect: the client dials
// the brokers in the background when the first event is published, so a
// Kafka that is down delays nothing.
func New(cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("linkevents producer: no brokers")
	}
	cfg.Topic = cmp.Or(cfg.Topic, linkevents.DefaultTopic)
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.MaxBufferedRecords = cmp.Or(cfg.MaxBufferedRecords, DefaultMaxBufferedRecords)
	cfg.MaxBufferedBytes = cmp.Or(cfg.MaxBufferedBytes, DefaultMaxBufferedBytes)
	cfg.CloseTimeout = cmp.Or(cfg.CloseTimeout, DefaultCloseTimeout)
	cfg.LogEvery = cmp.Or(cfg.LogEvery, DefaultLogEvery)
	if cfg.MaxBufferedRecords < 1 || cfg.MaxBufferedBytes < linkevents.MaxSize || cfg.CloseTimeout < 0 || cfg.LogEvery < 0 {
		return nil, fmt.Errorf("linkevents producer: max buffered records %d (want at least 1), bytes %d (want at least %d), close timeout %s and log interval %s (want positive)",
			cfg.MaxBufferedRecords, cfg.MaxBufferedBytes, linkevents.MaxSize, cfg.CloseTimeout, cfg.LogEvery)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client, err := kafkaprod.NewClient(kafkaprod.Config{
		Brokers: cfg.Brokers, ClientID: cfg.ClientID, Topic: cfg.Topic, Security: cfg.Security,
		MaxBufferedRecords: cfg.MaxBufferedRecords,
		MaxBufferedBytes:   cfg.MaxBufferedBytes,
		Compression:        "zstd",
		Logger:             cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("linkevents producer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{cfg: cfg, client: client, ctx: ctx, cancel: cancel}
	p.dropLog.every, p.failLog.every = cfg.LogEvery, cfg.LogEvery
	return p, nil
}

// Publish hands e to the client and returns at once; it never waits for
// Kafka. An event that finds the buffer full, or the producer closed, is
// dropped and counted. A nil Producer does nothing.
func (p *Producer) Publish(e linkevents.Event) { p.PublishContext(nil, e) }

// PublishContext is Publish for an event of a request whose context is
// ctx (nil: none): when ctx's span records, the record's publish span
// joins its trace (internal/tracing). The record lives on the producer's
// own context, never ctx's cancellation.
func (p *Producer) PublishContext(ctx context.Context, e linkevents.Event) {
	if p == nil {
		return
	}
	v, err := linkevents.Encode(e)
	if err != nil {
		p.failed.Add(1)
		p.cfg.Logger.Error("link event not published: it does not encode", "code", e.Code, "type", e.Type, "err", err)
		return
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.drop(e.Code, "closed")
		return
	}
	p.pending.Add(1)
	r := &kgo.Record{Key: e.Key(), Value: v, Timestamp: e.At}
	if ctx != nil {
		r.Context = tracing.WithParent(p.ctx, ctx) // TryProduce keeps a record's own context
	}
	p.client.TryProduce(p.ctx, r, p.promise)
}

// Room returns how many more events the buffer takes now; 0 when it is
// full. The cleanup asks before it deletes a batch whose events would be
// dropped.
func (p *Producer) Room() int {
	if p == nil {
		return 0
	}
	return max(0, p.cfg.MaxBufferedRecords-int(p.client.BufferedProduceRecords()))
}

// Stats returns the counts so far.
func (p *Producer) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	return Stats{
		Published: p.published.Load(),
		Dropped:   p.dropped.Load(),
		Failed:    p.failed.Load(),
		Buffered:  p.client.BufferedProduceRecords(),
	}
}

// Topic returns the topic the producer writes.
func (p *Producer) Topic() string { return p.cfg.Topic }

// Close stops taking events, waits up to CloseTimeout for the buffered ones
// to be delivered, then closes the client: events still buffered fail. It
// returns once every event's outcome is counted and the client's
// goroutines have stopped, with an error when events were left
// undelivered. Later calls do nothing.
func (p *Producer) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
	flushErr := p.client.Flush(ctx)
	cancel()
	left := p.client.BufferedProduceRecords()
	p.client.Close() // fails what is left with kgo.ErrClientClosed
	p.cancel()
	p.pending.Wait()
	if flushErr != nil {
		return fmt.Errorf("linkevents producer: close: %d events not delivered within %s: %w", left, p.cfg.CloseTimeout, flushErr)
	}
	return nil
}

// promise counts an event's outcome. The client calls promises one at a
// time, from its own goroutine.
func (p *Producer) promise(r *kgo.Record, err error) {
	defer p.pending.Done()
	switch {
	case err == nil:
		p.published.Add(1)
	case errors.Is(err, kgo.ErrMaxBuffered):
		p.drop(string(r.Key), "buffer full")
	default:
		n := p.failed.Add(1)
		if ok, skipped := p.failLog.allow(p.cfg.Now()); ok {
			p.cfg.Logger.Warn("link events failed", "topic", p.cfg.Topic, "code", string(r.Key),
				"err", err, "failed_total", n, "failed_unlogged", skipped)
		}
	}
}

// drop counts a dropped event and warns, at most once per LogEvery.
func (p *Producer) drop(code, why string) {
	n := p.dropped.Add(1)
	if ok, skipped := p.dropLog.allow(p.cfg.Now()); ok {
		p.cfg.Logger.Warn("link events dropped", "topic", p.cfg.Topic, "why", why, "code", code,
			"max_buffered_records", p.cfg.MaxBufferedRecords, "dropped_total", n, "dropped_unlogged", skipped)
	}
}

// limiter lets one log line through per interval and counts the others.
type limiter struct {
	every   time.Duration
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow reports whether a line may be logged at now, and how many were
// held back since the last one.
func (l *limiter) allow(now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.skipped++
		return false, 0
	}
	l.last, skipped, l.skipped = now, l.skipped, 0
	return true, skipped
}
