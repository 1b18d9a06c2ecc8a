package deliver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/webhooks"
)

// Defaults of ConsumerConfig.
const (
	DefaultGroup          = "shortify-webhooks"
	DefaultMaxPollRecords = 10_000
	DefaultSessionTimeout = 10 * time.Second
	// DefaultSubscribersTTL is how long a workspace's subscribers are
	// cached: an endpoint created, changed or disabled is seen within it.
	DefaultSubscribersTTL = time.Second
	// enqueueTries and enqueuePause bound the retries of a failed
	// Enqueue before the consumer gives up its partitions (Run returns an
	// error; its owner starts a new consumer, which resumes at the last
	// commit).
	enqueueTries = 3
	enqueuePause = time.Second
	// closeTimeout bounds the last flush when Run is cancelled.
	closeTimeout = 10 * time.Second
)

// Links reads a link's current state (linkstore.Store has it).
type Links interface {
	Get(ctx context.Context, domain, code string) (linkstore.Link, error)
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// ClicksTopic (default clickevents.DefaultTopic) and LinkEventsTopic
	// (default linkevents.DefaultTopic) are consumed; "-" consumes none.
	ClicksTopic, LinkEventsTopic string
	// Group is the consumer group (default DefaultGroup): every
	// deliverer of a deployment uses the same one.
	Group string
	// SessionTimeout is the group session timeout (default
	// DefaultSessionTimeout): how long a killed deliverer keeps its
	// partitions.
	SessionTimeout time.Duration
	// MaxPollRecords bounds one poll (default DefaultMaxPollRecords).
	MaxPollRecords int
	// Store receives the deliveries; Links gives links' current state.
	Store webhooks.Store
	Links Links
	// PublicURL is the base of short URLs on the instance's own host
	// ("": payloads carry no short_url for them).
	PublicURL string
	// SubscribersTTL caches a workspace's subscribers (default
	// DefaultSubscribersTTL).
	SubscribersTTL time.Duration
	// Window and MaxClicks bound a click batch (defaults
	// webhooks.ClickBatchWindow and webhooks.MaxClicksPerDelivery).
	Window    time.Duration
	MaxClicks int
	// ClientOpts are further franz-go options (TLS, SASL).
	ClientOpts []kgo.Opt
	// OnEnqueue, when set, is called after deliveries were enqueued
	// (Sender.Kick: they are sent at once).
	OnEnqueue func()
	// Metrics, when set, count what happens.
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Consumer turns link events and clicks into deliveries: a member of a
// consumer group on the two topics that, for each record, finds the
// workspace's subscribed endpoints, gathers deliveries (link events one
// each, clicks in batches per endpoint), enqueues them, and only then
// commits the records' offsets. A crash before the commit makes the
// records consumed again: their deliveries have the same IDs, which
// Enqueue ignores.
type Consumer struct {
	cfg  ConsumerConfig
	cl   *kgo.Client
	g    *gatherer
	subs *subscribers
	ua   useragent.Cache
	m    *Metrics
}

// NewConsumer makes a consumer and its Kafka client; it joins the group
// when Run polls.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	cfg.ClicksTopic = cmp.Or(cfg.ClicksTopic, clickevents.DefaultTopic)
	cfg.LinkEventsTopic = cmp.Or(cfg.LinkEventsTopic, linkevents.DefaultTopic)
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.SessionTimeout = cmp.Or(cfg.SessionTimeout, DefaultSessionTimeout)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, DefaultMaxPollRecords)
	cfg.SubscribersTTL = cmp.Or(cfg.SubscribersTTL, DefaultSubscribersTTL)
	cfg.Window = cmp.Or(cfg.Window, webhooks.ClickBatchWindow)
	cfg.MaxClicks = cmp.Or(cfg.MaxClicks, webhooks.MaxClicksPerDelivery)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("deliver: no brokers")
	case cfg.Store == nil || cfg.Links == nil:
		return nil, errors.New("deliver: no webhooks store or link store")
	case cfg.MaxClicks > webhooks.MaxClicksPerDelivery || cfg.MaxClicks < 1:
		return nil, fmt.Errorf("deliver: %d clicks per delivery is outside 1..%d", cfg.MaxClicks, webhooks.MaxClicksPerDelivery)
	}
	var topics []string
	for _, t := range []string{cfg.ClicksTopic, cfg.LinkEventsTopic} {
		if t != "-" {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil, errors.New("deliver: no topic to consume")
	}
	c := &Consumer{
		cfg: cfg, g: newGatherer(cfg.Window, cfg.MaxClicks), m: cfg.Metrics,
		subs: newSubscribers(cfg.Store, cfg.SubscribersTTL, cfg.Now),
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		tracing.NewKafka("", cfg.Group).Opt(), // receive spans while tracing is on
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(cfg.SessionTimeout / 10),
		// Rebalances wait for the gathered records' flush (at most
		// Window and an Enqueue), so that revoked partitions have
		// their offsets committed first.
		kgo.BlockRebalanceOnPoll(),
		// A partition without a committed offset is read from its start:
		// starting at its end would lose what was produced to it while
		// this group had not committed there yet (a deliverer killed
		// before its first commit). Endpoints get only events from after
		// their creation, so the history is read, not sent.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("deliver: kafka client: %w", err)
	}
	c.cl = cl
	return c, nil
}

// Run consumes until ctx is done or a flush fails for good, then
// flushes what it gathered, leaves the group and closes the client. It
// returns nil after ctx is done.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.CloseAllowingRebalance()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.g.wait(c.cfg.Now()))
		fetches := c.cl.PollRecords(pctx, c.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return c.close()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.cfg.Logger.Warn("deliver: fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		n := 0
		var failed error
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			if failed == nil {
				failed = c.record(ctx, r)
			}
		})
		if failed != nil {
			return failed
		}
		if c.g.due(c.cfg.Now()) || (n > 0 && c.g.empty()) {
			if err := c.flush(ctx); err != nil {
				return err
			}
		}
		if c.g.empty() {
			c.cl.AllowRebalance()
		}
	}
}

// close flushes what is gathered when Run stops, within closeTimeout:
// the records are consumed again otherwise, and their click batches may
// then be cut differently (so come twice, under other webhook-ids).
func (c *Consumer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.flush(ctx); err != nil {
		c.cfg.Logger.Warn("deliver: last flush failed; its records will be consumed again", "err", err)
	}
	return nil
}

// flush enqueues every gathered delivery, retrying a little, then
// commits the offsets of every record polled.
func (c *Consumer) flush(ctx context.Context) error {
	ds, err := c.g.drain()
	if err != nil {
		return err
	}
	if len(ds) > 0 {
		for try := 1; ; try++ {
			err = c.cfg.Store.Enqueue(ctx, ds)
			if err == nil {
				break
			}
			c.m.enqueueFailed()
			if try == enqueueTries || ctx.Err() != nil {
				return fmt.Errorf("deliver: enqueue %d deliveries: %w", len(ds), err)
			}
			c.cfg.Logger.Warn("deliver: enqueue failed, retrying", "deliveries", len(ds), "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(enqueuePause):
			}
		}
		c.m.enqueued(ds)
		if c.cfg.OnEnqueue != nil {
			c.cfg.OnEnqueue()
		}
	}
	if err := c.cl.CommitUncommittedOffsets(ctx); err != nil {
		// The partitions were lost (a rebalance without us, the session
		// expired): their new owner consumes the records again, and the
		// deliveries' IDs make that harmless.
		c.m.commitFailed()
		c.cfg.Logger.Warn("deliver: commit failed; records will be consumed again", "err", err)
	}
	return nil
}

// record gathers the deliveries of one record. Records that do not
// decode are skipped and counted; an error stops the consumer.
func (c *Consumer) record(ctx context.Context, r *kgo.Record) error {
	at := coord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
	if r.Topic == c.cfg.ClicksTopic {
		return c.click(ctx, at, r)
	}
	e, err := linkevents.DecodeRecord(r.Key, r.Value)
	if err != nil {
		c.m.skipped(skipUndecodable)
		c.cfg.Logger.Debug("deliver: undecodable link event skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
		return nil
	}
	return c.linkEvent(ctx, at, e)
}

// linkEvent gathers one delivery per subscribed endpoint. A created or
// updated event is a hint only: the payload is the link as the link
// store has it now, and an event whose link the store does not show
// (deleted since, or forged) makes none.
func (c *Consumer) linkEvent(ctx context.Context, at coord, e linkevents.Event) error {
	ev := eventOf(e.Type)
	if ev == "" {
		c.m.skipped(skipUndecodable)
		return nil
	}
	ws := workspace.Of(e.Workspace)
	eps, err := c.subs.get(ctx, ws, ev, e.At)
	if err != nil || len(eps) == 0 {
		return err
	}
	var data any
	if ev == webhooks.LinkDeleted {
		data = deletedData(e, c.cfg.PublicURL)
	} else {
		l, err := c.cfg.Links.Get(ctx, e.Domain, e.Code)
		switch {
		case errors.Is(err, linkstore.ErrNotFound):
			c.m.skipped(skipStale)
			return nil
		case err != nil:
			return fmt.Errorf("deliver: read link %q: %w", e.Code, err)
		case l.ID != e.LinkID || workspace.Of(l.WorkspaceID) != ws:
			// Another link has the code now, or the event lied about
			// the workspace: nothing to tell anyone.
			c.m.skipped(skipStale)
			return nil
		}
		data = linkData(l, c.cfg.PublicURL)
	}
	body, err := encode(ev, e.At, data)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		c.g.addDelivery(webhooks.Delivery{
			ID: deliveryID(at, ep.ID), Endpoint: ep.ID, Workspace: ws, Event: ev,
			Payload: body, CreatedAt: e.At, State: webhooks.Pending,
		})
	}
	return nil
}

// click adds the click to the batch of every subscribed endpoint.
func (c *Consumer) click(ctx context.Context, at coord, r *kgo.Record) error {
	var e clickevents.Event
	if err := e.UnmarshalBinary(r.Value); err != nil {
		c.m.skipped(skipUndecodable)
		c.cfg.Logger.Debug("deliver: undecodable click skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
		return nil
	}
	eps, err := c.subs.get(ctx, workspace.Of(e.Workspace), webhooks.LinkClicked, e.Time)
	if err != nil || len(eps) == 0 {
		return err
	}
	click := clickOf(&e, at, &c.ua)
	now := c.cfg.Now()
	for _, ep := range eps {
		if err := c.g.addClick(ep, at, click, now); err != nil {
			return err
		}
	}
	return nil
}
