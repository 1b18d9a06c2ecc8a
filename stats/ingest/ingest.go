// Package ingest is the stats service's Kafka consumer: a member of a
// consumer group on the clicks topic (and the link-events topic) that
// aggregates each polled batch in memory and writes it, with the consumed
// offsets, in one transaction of the stats database (statsdb).
//
// # Exactly once
//
// The offsets in the stats database, not the group's commits in Kafka,
// say where consumption resumes:
//
//   - Auto-commit is off and rebalances are blocked from PollRecords until
//     the batch is written (BlockRebalanceOnPoll, then AllowRebalance), so a
//     partition never changes hands while its records are in flight, and the
//     revoke and lost callbacks run only between batches. A batch is one or
//     more polls (MaxBatchEvents, Linger); while it is written the next is
//     aggregated (see Run), and is written only after it.
//   - When partitions are assigned, AdjustFetchOffsetsFn replaces the
//     offsets Kafka would use with those stored in the database (the start
//     of the partition where none is stored).
//   - A batch's aggregates and its partitions' next offsets commit
//     together. Each offset update is conditional on the value this consumer
//     last read or wrote, so a consumer that lost its partitions without
//     noticing cannot count a batch that the new owner counted already
//     (statsdb.ErrFenced).
//   - A batch that fails to write (database down, fenced, cancelled) is
//     dropped whole; the consumer reads its offsets from the database again
//     and seeks back to them, so the records are polled and counted again.
//   - Records are counted only from the offset to count next: records of
//     a partition that start after it (a fetch cursor ahead of the stored
//     offset) are dropped and the client sent back there (gap.go).
//
// A crash at any point therefore either loses the batch's transaction
// entirely (and its records are consumed again by whoever owns the
// partition next) or commits it entirely. Offsets are also committed to
// Kafka after each batch, for lag monitoring only; their failure is logged
// and ignored.
//
// Records that do not decode (a newer format version, garbage) are
// skipped and counted; they still advance the offset.
package ingest

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
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/statsdb"
)

// Defaults of Config.
const (
	DefaultGroup          = "shortify-stats"
	DefaultMaxPollRecords = 50_000
	DefaultMaxBatchEvents = 250_000
	DefaultLinger         = time.Second
	DefaultRetryBackoff   = time.Second
	DefaultWriteTimeout   = time.Minute
	// DefaultSessionTimeout is how long the group waits for a silent
	// member (kill -9, a partitioned host) before its partitions go to the
	// others: franz-go's own default is 45 s. Kafka brokers accept 6 s
	// at least (group.min.session.timeout.ms); 10 s leaves a GC pause or a
	// broker's leader change of a few seconds without a needless
	// rebalance, which stops the whole group's consumption while it runs.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultRebalanceTimeout is how long members may take to rejoin in a
	// rebalance (franz-go's default): a member holds a rebalance for up to
	// rebalanceEvery (or two Lingers) plus its batch in flight.
	DefaultRebalanceTimeout = time.Minute
)

// HeartbeatInterval is the heartbeat for a session timeout: a tenth of
// it, so that a member misses several before the broker gives up on it
// (franz-go asks for at most a third).
func HeartbeatInterval(session time.Duration) time.Duration { return session / 10 }

// Config configures a Consumer.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// ClicksTopic is the clicks topic (default clickevents.DefaultTopic).
	ClicksTopic string
	// LinkEventsTopic is the link-events topic (default
	// linkevents.DefaultTopic); "-" consumes no link events.
	LinkEventsTopic string
	// Group is the consumer group (default DefaultGroup). Every stats
	// instance of one deployment uses the same group.
	Group string
	// MaxPollRecords bounds one poll (default DefaultMaxPollRecords); a
	// batch is made of one or more polls.
	MaxPollRecords int
	// MaxBatchEvents and Linger bound a batch: after its first records,
	// a batch goes on polling until it holds MaxBatchEvents records
	// (default DefaultMaxBatchEvents) or Linger has passed (default
	// DefaultLinger; negative: write every poll at once). Bigger batches
	// write fewer rows per event (a hot link-hour is one row however many
	// clicks it got) and commit less often; Linger is also most of the
	// delay from a click to its visible count when traffic is light.
	MaxBatchEvents int
	Linger         time.Duration
	// RetryBackoff is the pause after a failed write before the next poll
	// (default DefaultRetryBackoff).
	RetryBackoff time.Duration
	// WriteTimeout bounds one batch's transaction (default
	// DefaultWriteTimeout); a batch in flight at shutdown is given this
	// long to finish.
	WriteTimeout time.Duration
	// SessionTimeout is the group session timeout (default
	// DefaultSessionTimeout): how long a member that stopped heartbeating
	// (killed, cut off) keeps its partitions. Heartbeats go every
	// HeartbeatInterval(SessionTimeout).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long members may take to rejoin the group
	// in a rebalance (default DefaultRebalanceTimeout).
	RebalanceTimeout time.Duration
	// DB is the stats database the batches go to.
	DB *statsdb.DB
	// Logger receives errors and skipped records (nil: slog.Default()).
	Logger *slog.Logger
	// ClientOpts are further franz-go options (TLS, SASL, client ID).
	ClientOpts []kgo.Opt
	// OnBatch, when set, is told about every batch written or failed
	// (by the goroutine that runs Run): the metrics' histograms.
	OnBatch func(BatchResult)

	// crash, when set, is asked at each point of a batch's life whether
	// to stop there as if the process died: tests kill consumers with it.
	crash func(point crashPoint) bool
}

// crashPoint is where in a batch's life a test may kill the consumer.
type crashPoint int

const (
	crashAfterPoll   crashPoint = iota // polled, nothing written
	crashDuringWrite                   // the transaction is cancelled midway
	crashAfterWrite                    // committed, rebalance not yet allowed
	numCrashPoints
)

// errCrashed is what Run returns when a test's crash hook fired.
var errCrashed = errors.New("ingest: crashed on purpose (test)")

// BatchResult is what Config.OnBatch learns of one batch.
type BatchResult struct {
	// Records is the batch's records (clicks and link events), Clicks
	// its clicks.
	Records, Clicks int
	// Write is the time its transaction took, committed or not.
	Write time.Duration
	// Err is why it was not written; nil when it committed.
	Err error
}

// Stats are a consumer's counters since it started.
type Stats struct {
	// Events is the clicks counted (committed), Human and Bot the same
	// split by the event's bot flag.
	Events, Human, Bot int64
	// Consumed is the click records polled, counted or not: a batch
	// that fails is polled again, and counted once.
	Consumed int64
	// Deletions is the link deletions applied (statistics removed).
	Deletions int64
	// Fenced is the batches refused because another consumer had moved
	// their partitions' offsets (statsdb.ErrFenced), among Failed.
	Fenced int64
	// Rebalances is the group's assignment changes this consumer saw
	// (partitions assigned, revoked or lost); Assigned the partitions it
	// holds now, of every topic.
	Rebalances int64
	Assigned   int
	// Batches is the transactions committed.
	Batches int64
	// Skipped is the records that did not decode.
	Skipped int64
	// Failed is the batches whose write failed and were consumed again.
	Failed int64
	// SeekBacks is the times a partition's fetched records started
	// after the offset to count next and the client was sent back there.
	SeekBacks int64
	// Aggregating is the time spent decoding and aggregating records,
	// Writing the time spent in database transactions (committed or not).
	Aggregating, Writing time.Duration
}

// Consumer consumes the clicks into the stats database. Run it once.
type Consumer struct {
	cfg    Config
	cl     *kgo.Client
	topics []string

	// positions holds, per assigned partition, the next offset stored in
	// the database (statsdb.NoOffset: none): the value this consumer's next
	// write of the partition expects. The group callbacks change it between
	// batches; the poll loop reads and advances it.
	mu        sync.Mutex
	positions map[tp]int64

	events, batches, skipped, failed atomic.Int64
	aggregating, writing             atomic.Int64 // nanoseconds

	human, bot, consumed, deletions, fenced, rebalances atomic.Int64
	// seekBacks counts the partitions sent back to their counted offset
	// (gap.go); gaps holds, per partition, the offset last sent back to,
	// until records come from it. Only Run's goroutine uses gaps.
	seekBacks atomic.Int64
	gaps      map[tp]int64
	// writingSeen is writing as observe last saw it: at most one batch
	// is in flight, so the difference is that batch's write time. Only
	// Run's goroutine uses it.
	writingSeen int64
}

type tp struct {
	topic     string
	partition int32
}

// New makes a consumer and its Kafka client; it joins the group when Run
// polls.
func New(cfg Config) (*Consumer, error) {
	cfg.ClicksTopic = cmp.Or(cfg.ClicksTopic, clickevents.DefaultTopic)
	cfg.LinkEventsTopic = cmp.Or(cfg.LinkEventsTopic, linkevents.DefaultTopic)
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, DefaultMaxPollRecords)
	cfg.MaxBatchEvents = cmp.Or(cfg.MaxBatchEvents, DefaultMaxBatchEvents)
	cfg.Linger = cmp.Or(cfg.Linger, DefaultLinger)
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, DefaultRetryBackoff)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, DefaultWriteTimeout)
	cfg.SessionTimeout = cmp.Or(cfg.SessionTimeout, DefaultSessionTimeout)
	cfg.RebalanceTimeout = cmp.Or(cfg.RebalanceTimeout, DefaultRebalanceTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("ingest: no brokers")
	case cfg.DB == nil:
		return nil, errors.New("ingest: no stats database")
	case cfg.MaxPollRecords < 0:
		return nil, fmt.Errorf("ingest: max poll records %d", cfg.MaxPollRecords)
	case cfg.MaxBatchEvents < 0:
		return nil, fmt.Errorf("ingest: max batch events %d", cfg.MaxBatchEvents)
	}
	c := &Consumer{cfg: cfg, positions: map[tp]int64{}, topics: []string{cfg.ClicksTopic}}
	if cfg.LinkEventsTopic != "-" {
		c.topics = append(c.topics, cfg.LinkEventsTopic)
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(c.topics...),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(HeartbeatInterval(cfg.SessionTimeout)),
		kgo.RebalanceTimeout(cfg.RebalanceTimeout),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.forget),
		kgo.OnPartitionsLost(c.forget),
		kgo.WithHooks(consumedHook{c}),
		tracing.NewKafka("", cfg.Group).Opt(), // receive spans while tracing is on (tracing.go)
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: kafka client: %w", err)
	}
	c.cl = cl
	return c, nil
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	assigned := len(c.positions)
	c.mu.Unlock()
	return Stats{
		Events: c.events.Load(), Human: c.human.Load(), Bot: c.bot.Load(), Consumed: c.consumed.Load(),
		Batches: c.batches.Load(), Skipped: c.skipped.Load(), Failed: c.failed.Load(), Fenced: c.fenced.Load(),
		Deletions: c.deletions.Load(), Rebalances: c.rebalances.Load(), Assigned: assigned, SeekBacks: c.seekBacks.Load(),
		Aggregating: time.Duration(c.aggregating.Load()), Writing: time.Duration(c.writing.Load()),
	}
}

// consumedHook counts the click records polled.
type consumedHook struct{ c *Consumer }

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (h consumedHook) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if polled && r.Topic == h.c.cfg.ClicksTopic {
		h.c.consumed.Add(1)
	}
}

// assigned counts an assignment; adjustOffsets has recorded the
// partitions already.
func (c *Consumer) assigned(context.Context, *kgo.Client, map[string][]int32) {
	c.rebalances.Add(1)
}

// observe accounts for a batch in flight that settled (err nil: it
// committed) in the counters Run does not keep, and tells OnBatch.
func (c *Consumer) observe(ctx context.Context, f *flight, err error) {
	if len(f.b.Offsets) == 0 {
		return
	}
	w := c.writing.Load()
	took := time.Duration(w - c.writingSeen)
	c.writingSeen = w
	switch {
	case err == nil:
		// Every click is in one hourly instance-wide roll-up row, human
		// or bot (and in one of its workspace's, not counted here).
		for i := range f.b.Rows {
			if r := &f.b.Rows[i]; r.Grain == aggregate.Hour && r.Code == "" && r.Workspace == 0 {
				if r.Bot {
					c.bot.Add(r.Clicks)
				} else {
					c.human.Add(r.Clicks)
				}
			}
		}
		c.deletions.Add(int64(len(f.b.Deletions))) // none when KeepDeleted: Write drops them
	case ctx.Err() != nil:
		return // a shutdown, not a failure
	case errors.Is(err, statsdb.ErrFenced):
		c.fenced.Add(1)
	}
	if c.cfg.OnBatch != nil {
		c.cfg.OnBatch(BatchResult{Records: f.w.records, Clicks: f.clicks, Write: took, Err: err})
	}
}

// adjustOffsets starts every assigned partition at the offset stored in
// the database, or at its start when none is stored, whatever Kafka has
// committed.
func (c *Consumer) adjustOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, parts := range assigned {
		ps := make([]int32, 0, len(parts))
		for p := range parts {
			ps = append(ps, p)
		}
		stored, err := c.cfg.DB.LoadOffsets(ctx, c.cfg.Group, topic, ps)
		if err != nil {
			// Leaves this group session; the client rejoins and asks again.
			c.cfg.Logger.Error("ingest: cannot load offsets", "topic", topic, "err", err)
			return nil, err
		}
		c.mu.Lock()
		for p := range parts {
			if off, ok := stored[p]; ok {
				parts[p] = kgo.NewOffset().At(off).WithEpoch(-1)
				c.positions[tp{topic, p}] = off
			} else {
				parts[p] = kgo.NewOffset().AtStart()
				c.positions[tp{topic, p}] = statsdb.NoOffset
			}
		}
		c.mu.Unlock()
	}
	return assigned, nil
}

// forget drops revoked or lost partitions. With BlockRebalanceOnPoll it
// runs only between batches, so no write of theirs is in flight.
func (c *Consumer) forget(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	c.rebalances.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, parts := range gone {
		for _, p := range parts {
			delete(c.positions, tp{topic, p})
		}
	}
}

// fetchFailed logs the fetch errors of a poll and reports whether there
// were any (besides a cancelled or expired poll).
func (c *Consumer) fetchFailed(fetches kgo.Fetches) bool {
	failed := false
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			failed = true
			c.cfg.Logger.Warn("ingest: fetch error", "topic", topic, "partition", p, "err", err)
		}
	})
	return failed
}

// pause waits RetryBackoff or until ctx is done.
func (c *Consumer) pause(ctx context.Context) {
	t := time.NewTimer(c.cfg.RetryBackoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Consumer) crashed(p crashPoint) bool {
	return c.cfg.crash != nil && c.cfg.crash(p)
}

// commitToKafka tells Kafka the group's position, asynchronously, for lag
// monitoring; the database stays the source of truth.
func (c *Consumer) commitToKafka(ctx context.Context, offs []statsdb.Offset) {
	m := map[string]map[int32]kgo.EpochOffset{}
	for _, o := range offs {
		if m[o.Topic] == nil {
			m[o.Topic] = map[int32]kgo.EpochOffset{}
		}
		m[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Next}
	}
	c.cl.CommitOffsets(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			c.cfg.Logger.Debug("ingest: kafka commit failed (monitoring only)", "err", err)
		}
	})
}

// rewind reads the batch's partitions' offsets from the database again
// and seeks the client back to them: the failed batch's records are polled
// again, after whatever another consumer may have written.
func (c *Consumer) rewind(ctx context.Context, offs []statsdb.Offset, first map[tp]int64) {
	byTopic := map[string][]int32{}
	for _, o := range offs {
		byTopic[o.Topic] = append(byTopic[o.Topic], o.Partition)
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for topic, parts := range byTopic {
		set[topic] = map[int32]kgo.EpochOffset{}
		stored, err := c.cfg.DB.LoadOffsets(ctx, c.cfg.Group, topic, parts)
		if err != nil {
			// The database is unreachable: keep the positions (the failed
			// write changed nothing) and poll the batch again; if another
			// consumer moved them, the next write is fenced and we come
			// back here.
			c.cfg.Logger.Warn("ingest: cannot reload offsets", "topic", topic, "err", err)
			for _, p := range parts {
				set[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: first[tp{topic, p}]}
			}
			continue
		}
		c.mu.Lock()
		for _, p := range parts {
			k := tp{topic, p}
			if _, ok := c.positions[k]; !ok {
				continue
			}
			off, ok := stored[p]
			if !ok {
				// Nothing stored: nothing was counted; start again at the
				// batch's first record of the partition.
				off = first[k]
				c.positions[k] = statsdb.NoOffset
			} else {
				c.positions[k] = off
			}
			set[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
		c.mu.Unlock()
	}
	c.cl.SetOffsets(set)
}

// PartitionLag is a partition's consumer lag.
type PartitionLag struct {
	Topic     string
	Partition int32
	// End is the partition's high watermark (the next offset to be
	// written), Committed the next offset stored in the stats database
	// (the partition's start when none is).
	End, Committed int64
}

// Lag returns End - Committed, never below 0.
func (l PartitionLag) Lag() int64 { return max(l.End-l.Committed, 0) }

// Lag asks the brokers for the end offsets of every partition of the
// consumed topics and the stats database for the group's stored offsets:
// the lag of the whole group, whoever holds the partitions (a partition
// of a dead member still shows its lag growing). It does not touch the
// poll loop.
func (c *Consumer) Lag(ctx context.Context) ([]PartitionLag, error) {
	meta := kmsg.NewPtrMetadataRequest()
	for _, t := range c.topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		meta.Topics = append(meta.Topics, rt)
	}
	mresp, err := meta.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, fmt.Errorf("ingest: lag: metadata: %w", err)
	}
	parts := map[string][]int32{}
	for _, t := range mresp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue // a topic not created yet has no lag
		}
		for _, p := range t.Partitions {
			parts[*t.Topic] = append(parts[*t.Topic], p.Partition)
		}
	}
	ends, err := c.listOffsets(ctx, parts, -1) // latest: the high watermark
	if err != nil {
		return nil, err
	}
	var out []PartitionLag
	var starts map[tp]int64
	for topic, ps := range parts {
		stored, err := c.cfg.DB.LoadOffsets(ctx, c.cfg.Group, topic, ps)
		if err != nil {
			return nil, fmt.Errorf("ingest: lag: %w", err)
		}
		for _, p := range ps {
			end, ok := ends[tp{topic, p}]
			if !ok {
				continue
			}
			committed, ok := stored[p]
			if !ok {
				if starts == nil { // nothing consumed yet: all of it is lag
					if starts, err = c.listOffsets(ctx, parts, -2); err != nil {
						return nil, err
					}
				}
				committed = starts[tp{topic, p}]
			}
			out = append(out, PartitionLag{Topic: topic, Partition: p, End: end, Committed: committed})
		}
	}
	return out, nil
}

// listOffsets returns the partitions' offsets at timestamp (-1 the end,
// -2 the start); the client sends each partition to its leader.
func (c *Consumer) listOffsets(ctx context.Context, parts map[string][]int32, timestamp int64) (map[tp]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	for topic, ps := range parts {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, fmt.Errorf("ingest: lag: list offsets: %w", err)
	}
	out := map[tp]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[tp{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}
