package invalidation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/tracing"
)

// Defaults of Config.
const (
	DefaultClientID       = "shortify-edge"
	DefaultFetchMaxWait   = 200 * time.Millisecond
	DefaultMetadataMaxAge = 30 * time.Second
	DefaultStaleAfter     = 3 * time.Second
	DefaultLogEvery       = time.Minute
)

// MaxFetchMaxWait is the longest FetchMaxWait allowed: a longer wait could
// hold an event back past the one-second promise.
const MaxFetchMaxWait = time.Second

// maxRetryBackoff bounds the wait between two attempts to reach a broker,
// so that the consumer is back within a second of Kafka.
const maxRetryBackoff = time.Second

// errorBackoff is how long the loop waits after a poll that brought only
// errors, so that an error the client reports at once (a missing topic)
// does not spin the loop.
const errorBackoff = 250 * time.Millisecond

// ErrStarted is returned by Start and Run on a consumer that was already
// started: a Consumer runs once.
var ErrStarted = errors.New("invalidation: consumer already started")

// ErrClosed is returned by Start and Run after Close.
var ErrClosed = errors.New("invalidation: consumer closed")

// EvictFunc is called for every decoded event, with the event's code, in
// the order of the topic's partition (so in publication order per code),
// one at a time. It must return quickly: the next events wait for it, and
// the time it takes counts against the one-second promise. ctx is
// cancelled when the consumer stops. An error is counted (Stats.Failed)
// and logged; the event is not retried.
//
// The function decides what to do with each type: an edge evicts the code
// from L1 and L2 for every event, and a created event also clears a cached
// "unknown code" entry.
type EvictFunc func(ctx context.Context, code string, e linkevents.Event) error

// Config configures a Consumer.
type Config struct {
	// Brokers are the seed brokers, host:port (at least one).
	Brokers []string
	// Topic is the link-events topic (default linkevents.DefaultTopic).
	Topic string
	// ClientID names the client to the brokers (default DefaultClientID).
	ClientID string
	// Security is how the client authenticates to the brokers and
	// encrypts its connections (TLS, SASL); the zero value is plaintext.
	Security kafkasec.Config
	// Evict is called for every event (required).
	Evict EvictFunc
	// FetchMaxWait is how long a broker holds a fetch that finds no new
	// record (default DefaultFetchMaxWait, at most MaxFetchMaxWait). It is
	// also the rhythm of the empty answers that tell Connected.
	FetchMaxWait time.Duration
	// MetadataMaxAge is how often the client refreshes the topic's
	// metadata (default DefaultMetadataMaxAge): partitions added to the
	// topic are read at most this late.
	MetadataMaxAge time.Duration
	// StaleAfter is how long without a fetch answer makes the consumer
	// report itself disconnected (default DefaultStaleAfter). It must be
	// longer than FetchMaxWait.
	StaleAfter time.Duration
	// LogEvery is the least time between two warnings about skipped
	// records, failed evictions or fetch errors (default DefaultLogEvery).
	LogEvery time.Duration
	// Logger receives the warnings (nil: slog.Default()).
	Logger *slog.Logger
}

// Stats are a consumer's counts since it started, for metrics.
type Stats struct {
	// Applied events were handed to the evict function, which succeeded.
	Applied uint64
	// Failed events were handed to the evict function, which returned an
	// error.
	Failed uint64
	// Invalid records did not decode (garbage, a missing field, a record
	// key that is not the code) and were skipped.
	Invalid uint64
	// UnknownVersion records were of a format version this consumer does
	// not read (a newer control plane) and were skipped.
	UnknownVersion uint64
	// FetchErrors counts the errors the client reported while fetching
	// (it retries by itself; these are for alerting).
	FetchErrors uint64
	// Lag is how many records the brokers held, at the last fetch of
	// each partition, beyond what was read: 0 when caught up.
	Lag int64
	// LastFetch is when a broker last answered a fetch (zero: never, or
	// the consumer is closed).
	LastFetch time.Time
	// Connected: a broker answered a fetch within StaleAfter, so events
	// are applied within a second. While false, the L1 TTL bounds
	// staleness.
	Connected bool
}

// Skipped returns how many records were skipped: Invalid plus
// UnknownVersion.
func (s Stats) Skipped() uint64 { return s.Invalid + s.UnknownVersion }

// CaughtUp reports whether the consumer is connected and has read every
// record the brokers reported at its last fetch of each partition.
func (s Stats) CaughtUp() bool { return s.Connected && s.Lag == 0 }

// Consumer reads the link-events topic and calls Config.Evict for every
// event. Create it with New, then either Run it or Start it and Close it.
// Its methods are safe for concurrent use.
type Consumer struct {
	cfg Config
	// epoch is when New ran: lastFetch counts from it, on the monotonic
	// clock, so that a wall-clock step cannot fake a connection state.
	epoch time.Time

	// mu guards the lifecycle: started, closed, cancel and done.
	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the loop has returned and the client is closed

	applied, failed, invalid, version, fetchErrors atomic.Uint64
	lag                                            atomic.Int64
	lastFetch                                      atomic.Int64 // nanoseconds since epoch, plus 1; 0: never
	lastWarn                                       atomic.Int64 // Unix nanoseconds of the last warning
}

// New checks cfg, fills its defaults and returns a consumer. It does not
// connect: Start or Run does.
func New(cfg Config) (*Consumer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("invalidation: no brokers")
	}
	for _, b := range cfg.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return nil, fmt.Errorf("invalidation: broker %q is not host:port", b)
		}
	}
	if cfg.Evict == nil {
		return nil, errors.New("invalidation: no evict function")
	}
	if err := cfg.Security.Validate("invalidation"); err != nil {
		return nil, err
	}
	cfg.Topic = cmp.Or(cfg.Topic, linkevents.DefaultTopic)
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.FetchMaxWait = cmp.Or(cfg.FetchMaxWait, DefaultFetchMaxWait)
	cfg.MetadataMaxAge = cmp.Or(cfg.MetadataMaxAge, DefaultMetadataMaxAge)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, DefaultStaleAfter)
	cfg.LogEvery = cmp.Or(cfg.LogEvery, DefaultLogEvery)
	switch {
	case cfg.FetchMaxWait < 0 || cfg.FetchMaxWait > MaxFetchMaxWait:
		return nil, fmt.Errorf("invalidation: fetch max wait %s is outside (0, %s]", cfg.FetchMaxWait, MaxFetchMaxWait)
	case cfg.MetadataMaxAge < 0:
		return nil, fmt.Errorf("invalidation: metadata max age %s is negative", cfg.MetadataMaxAge)
	case cfg.StaleAfter <= cfg.FetchMaxWait:
		return nil, fmt.Errorf("invalidation: stale-after %s is not longer than the fetch max wait %s", cfg.StaleAfter, cfg.FetchMaxWait)
	case cfg.LogEvery < 0:
		return nil, fmt.Errorf("invalidation: log interval %s is negative", cfg.LogEvery)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Consumer{cfg: cfg, epoch: time.Now()}, nil
}

// Start connects in the background and applies events until Close (or
// until ctx ends). Events published from the moment Start is called on
// are applied. It fails when the consumer was started or closed already,
// or when ctx is done.
func (c *Consumer) Start(ctx context.Context) error {
	client, ctx, err := c.begin(ctx)
	if err != nil {
		return err
	}
	go c.loop(ctx, client)
	return nil
}

// Run applies events until ctx ends or Close is called, then returns nil
// once the client is closed. It fails at once when the consumer was
// started or closed already, or when ctx is done.
func (c *Consumer) Run(ctx context.Context) error {
	client, ctx, err := c.begin(ctx)
	if err != nil {
		return err
	}
	c.loop(ctx, client)
	return nil
}

// Close stops the consumer and returns once its goroutines have ended
// (it waits for an evict call in progress, whose context it cancels).
// Later calls do nothing; it is safe on a consumer that never started or
// failed to.
func (c *Consumer) Close() {
	c.mu.Lock()
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Topic returns the topic the consumer reads.
func (c *Consumer) Topic() string { return c.cfg.Topic }

// Stats returns the counts so far and the connection state.
func (c *Consumer) Stats() Stats {
	s := Stats{
		Applied:        c.applied.Load(),
		Failed:         c.failed.Load(),
		Invalid:        c.invalid.Load(),
		UnknownVersion: c.version.Load(),
		FetchErrors:    c.fetchErrors.Load(),
		Lag:            c.lag.Load(),
	}
	if ns := c.lastFetch.Load(); ns != 0 {
		s.LastFetch = c.epoch.Add(time.Duration(ns - 1))
		s.Connected = time.Since(s.LastFetch) < c.cfg.StaleAfter
	}
	return s
}

// begin marks the consumer started and creates its client, consuming from
// now on; the returned context ends on Close.
func (c *Consumer) begin(ctx context.Context) (*kgo.Client, context.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, nil, ErrClosed
	case c.started:
		return nil, nil, ErrStarted
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("invalidation: start: %w", err)
	}
	c.started = true
	// From the first record stamped now or later: on the partitions that
	// exist, about the log end; on partitions added later, their start
	// (AtEnd would skip what a new partition got before the client saw
	// it). Record timestamps are the events' times on the control plane.
	from := kgo.NewOffset().AfterMilli(time.Now().UnixMilli())
	sec, err := c.cfg.Security.Opts()
	if err != nil {
		return nil, nil, fmt.Errorf("invalidation: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	client, err := kgo.NewClient(append(sec,
		// The client runs under the consumer's context, which ends before
		// the client is closed: Close then sends nothing (no final
		// metrics push), so a Kafka that is down cannot hold it up.
		kgo.WithContext(ctx),
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ClientID(c.cfg.ClientID),
		tracing.NewKafka(c.cfg.ClientID, "").Opt(), // receive spans while tracing is on
		kgo.ConsumeTopics(c.cfg.Topic),
		kgo.ConsumeStartOffset(from),
		// On data loss the client rewinds (default: a minute before the
		// last record read): evicting twice is harmless, missing is not.
		kgo.FetchMaxWait(c.cfg.FetchMaxWait),
		// Events are small (linkevents.MaxSize at most): bound what one
		// fetch may buffer on an edge.
		kgo.FetchMaxBytes(4<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		// No fetch sessions: with a few partitions a full fetch request
		// is small, and edges, which may be many and restart often, take
		// none of the brokers' session slots (which all consumers share;
		// Close does not end a session, see WithContext above).
		kgo.DisableFetchSessions(),
		kgo.MetadataMaxAge(c.cfg.MetadataMaxAge),
		kgo.MetadataMinAge(min(c.cfg.MetadataMaxAge, time.Second)),
		kgo.RetryBackoffFn(backoff),
		kgo.WithHooks(fetchHook{c}),
	)...)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("invalidation: client for %v: %w", c.cfg.Brokers, err)
	}
	c.cancel, c.done = cancel, make(chan struct{})
	return client, ctx, nil
}

// backoff is the wait before the tries-th retry of a request: 100 ms,
// doubling, at most maxRetryBackoff.
func backoff(tries int) time.Duration {
	return min(100*time.Millisecond<<min(tries, 10), maxRetryBackoff)
}

// loop polls and applies until ctx ends, then closes the client.
func (c *Consumer) loop(ctx context.Context, client *kgo.Client) {
	defer close(c.done)
	defer func() {
		client.Close()
		c.lastFetch.Store(0) // no hook runs after Close: a closed consumer is not connected
	}()
	lags := map[int32]int64{}
	for {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		var errs int
		fetches.EachError(func(topic string, partition int32, err error) {
			errs++
			c.fetchErrors.Add(1)
			c.warn("link-events fetch failed; the client retries", "topic", topic, "partition", partition, "err", err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if ctx.Err() != nil {
					return // stopping: the rest would fail on the cancelled context
				}
				c.apply(ctx, r)
			}
			if n := len(p.Records); n > 0 {
				lags[p.Partition] = max(0, p.HighWatermark-(p.Records[n-1].Offset+1))
			}
		})
		var lag int64
		for _, l := range lags {
			lag += l
		}
		c.lag.Store(lag)
		if errs > 0 && fetches.NumRecords() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(errorBackoff):
			}
		}
	}
}

// apply decodes one record and hands its event to the evict function.
func (c *Consumer) apply(ctx context.Context, r *kgo.Record) {
	e, err := linkevents.DecodeRecord(r.Key, r.Value)
	if err != nil {
		if errors.Is(err, linkevents.ErrVersion) {
			c.version.Add(1)
		} else {
			c.invalid.Add(1)
		}
		c.warn("link event skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	if err := c.cfg.Evict(ctx, e.Code, e); err != nil {
		c.failed.Add(1)
		c.warn("link event not applied", "code", e.Code, "type", e.Type, "err", err)
		return
	}
	c.applied.Add(1)
}

// warn logs a warning with the counts, at most once per LogEvery (the
// counts say what happened in between). Only the loop calls it.
func (c *Consumer) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	if last := c.lastWarn.Load(); last != 0 && time.Duration(now-last) < c.cfg.LogEvery {
		return
	}
	c.lastWarn.Store(now)
	s := c.Stats()
	c.cfg.Logger.Warn(msg, append(args, "topic", c.cfg.Topic, "invalid_total", s.Invalid,
		"unknown_version_total", s.UnknownVersion, "failed_total", s.Failed, "fetch_errors_total", s.FetchErrors)...)
}

// fetchHook records when a broker last answered a fetch: the heartbeat
// behind Stats.Connected (an idle fetch is answered every FetchMaxWait).
type fetchHook struct{ c *Consumer }

// OnBrokerRead implements kgo.HookBrokerRead.
func (h fetchHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.Fetch.Int16() && err == nil {
		h.c.lastFetch.Store(int64(time.Since(h.c.epoch)) + 1)
	}
}

var _ kgo.HookBrokerRead = fetchHook{}
