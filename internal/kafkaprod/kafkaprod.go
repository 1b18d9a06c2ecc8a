// Package kafkaprod is the one franz-go producer configuration of
// Shortify's two event topics: the edge's click emitter
// (internal/clickevents) and the control plane's link-events producer
// (internal/linkevents/producer) both make their client with NewClient, so
// that they batch, compress, partition, retry and log alike, and a change
// to how Shortify produces is made once.
//
// What every producer gets:
//   - the TLS and SASL options of its kafkasec.Config (internal/kafkasec);
//   - idempotence and acks from all in-sync replicas (franz-go's default:
//     a retried batch is written once, a partition's records stay in
//     order);
//   - records partitioned by Kafka's murmur2 hash of the key (the short
//     code, for both topics), so a code's events share a partition and
//     Java and franz-go clients agree on which;
//   - batch compression with fallbacks the broker always takes (Codecs);
//   - a metadata refresh at most a second apart after a broker failure
//     (franz-go's default is 5 s): sooner back to delivering;
//   - the client's errors and warnings on the caller's slog.Logger
//     (Logger);
//   - a "<topic> publish" span for a record produced with a context whose
//     span records (internal/tracing; none while tracing is off).
//
// What differs between the producers is their Config: the clicks bound
// the client's buffer at twice their own (the emitter bounds it itself),
// linger and time out records; link events take the client's defaults.
package kafkaprod

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/tracing"
)

// DefaultCompression is the codec of a Config without one.
const DefaultCompression = "zstd"

// Config is what a producer's client is made of. Zero fields take the
// client's defaults unless said otherwise.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// ClientID names the client to the brokers.
	ClientID string
	// Topic is the topic of records that name none.
	Topic string
	// Security is how the client authenticates and encrypts (TLS, SASL).
	Security kafkasec.Config
	// MaxBufferedRecords and MaxBufferedBytes bound what the client
	// buffers; TryProduce fails a record beyond them.
	MaxBufferedRecords, MaxBufferedBytes int
	// Linger is how long a partition's batch waits for more records;
	// negative: not at all.
	Linger time.Duration
	// Compression is zstd (default), lz4, snappy, gzip or none; see
	// Codecs.
	Compression string
	// RecordTimeout bounds how long a record may wait for Kafka, from its
	// timestamp.
	RecordTimeout time.Duration
	// Logger receives the client's errors and warnings (nil: none).
	Logger *slog.Logger
}

// NewClient returns a producing client for cfg, with extra options
// applied last (so that they override). It does not connect: the client
// dials the brokers in the background. Its errors name the setting at
// fault; the caller adds its own prefix.
func NewClient(cfg Config, extra ...kgo.Opt) (*kgo.Client, error) {
	codecs, err := Codecs(cmp.Or(cfg.Compression, DefaultCompression))
	if err != nil {
		return nil, err
	}
	opts, err := cfg.Security.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ProducerBatchCompression(codecs...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MetadataMinAge(time.Second),
		// While tracing is on, a record produced with a context whose span records gets a
		// publish span and carries the trace (internal/tracing).
		tracing.NewKafka(cfg.ClientID, "").Opt(),
	)
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	if cfg.Topic != "" {
		opts = append(opts, kgo.DefaultProduceTopic(cfg.Topic))
	}
	if cfg.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(cfg.MaxBufferedRecords))
	}
	if cfg.MaxBufferedBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(cfg.MaxBufferedBytes))
	}
	if cfg.Linger != 0 {
		opts = append(opts, kgo.ProducerLinger(max(cfg.Linger, 0)))
	}
	if cfg.RecordTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(cfg.RecordTimeout))
	}
	if cfg.Logger != nil {
		opts = append(opts, kgo.WithLogger(Logger{cfg.Logger}))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("client for %v: %w", cfg.Brokers, err)
	}
	return cl, nil
}

// compressions are the codecs of each compression name, in order of
// preference: each list ends in none, which every broker takes.
var compressions = map[string][]kgo.CompressionCodec{
	"zstd":   {kgo.ZstdCompression(), kgo.Lz4Compression(), kgo.NoCompression()},
	"lz4":    {kgo.Lz4Compression(), kgo.NoCompression()},
	"snappy": {kgo.SnappyCompression(), kgo.NoCompression()},
	"gzip":   {kgo.GzipCompression(), kgo.NoCompression()},
	"none":   {kgo.NoCompression()},
}

// Codecs returns the batch codecs of a compression name (zstd, lz4,
// snappy, gzip or none), best first: the client falls back to the next
// when a broker refuses one.
func Codecs(name string) ([]kgo.CompressionCodec, error) {
	c, ok := compressions[name]
	if !ok {
		return nil, fmt.Errorf("unknown compression %q (want zstd, lz4, snappy, gzip or none)", name)
	}
	return c, nil
}

// Logger passes a client's errors (as warnings) and warnings (as
// information: while a broker is down the client warns at every retry) to
// an slog.Logger.
type Logger struct{ L *slog.Logger }

// Level implements kgo.Logger: warnings and errors only.
func (Logger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

// Log implements kgo.Logger.
func (k Logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.L.Warn("kafka: "+msg, keyvals...)
	case kgo.LogLevelWarn:
		k.L.Info("kafka: "+msg, keyvals...)
	}
}
