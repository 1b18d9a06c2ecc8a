// Package stats is the stats service's ingest as a Caddy app: the
// `shortify_ingest` global option (the "shortify_ingest" app in JSON) runs a
// consumer (stats/ingest) of the clicks and link-events topics that writes
// the aggregates into the stats database (stats/statsdb). Any number of
// Caddy instances may run it with the same group: they share the topics'
// partitions.
//
// The stats API and dashboard are another module, the shortify_stats HTTP
// handler (stats/handler); the app is named shortify_ingest so that the two
// are not confused in a Caddyfile.
//
// Settings left empty are taken from the control plane's `shortify` app
// when it is in the same config: its stats_database, kafka_brokers and
// link_events_topic.
package stats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/kafkagroup"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/stats/ingest"
	"github.com/shortify/shortify/stats/statsdb"
)

func init() {
	caddy.RegisterModule(new(App))
}

const (
	// retryEvery is the pause between attempts to open the stats database.
	retryEvery = 5 * time.Second
	// sqliteMaxPollRecords is the default poll and batch on SQLite.
	sqliteMaxPollRecords = 2000
	// minRebalanceTimeout leaves a batch in flight time to be written.
	minRebalanceTimeout = caddy.Duration(10 * time.Second)
)

// ControlPlane is what the ingest takes from the shortify app of the same
// config (*controlplane.App has it) for the settings it leaves unset. An
// interface, so that stats does not depend on the control plane.
type ControlPlane interface {
	// KafkaClient returns the Kafka brokers and how a client
	// authenticates to them.
	KafkaClient() (brokers []string, security kafkasec.Config)
	// StatsDSN returns the stats database's DSN.
	StatsDSN() string
	// LinkEventsTopicName returns the link-events topic.
	LinkEventsTopicName() string
}

// App runs the stats ingest.
type App struct {
	// Brokers are the Kafka brokers (host:port). Default: the shortify
	// app's kafka_brokers.
	Brokers []string `json:"brokers,omitempty"`
	// KafkaSecurity is how the ingest authenticates and encrypts (TLS,
	// SASL/SCRAM; package kafkasec). Caddyfile: kafka_tls_ca,
	// kafka_tls_cert, kafka_tls_key, kafka_tls_server_name,
	// kafka_sasl_mechanism, kafka_sasl_user, kafka_sasl_password.
	// Default: when the brokers are the shortify app's, its settings.
	KafkaSecurity kafkasec.Config `json:"kafka_security,omitzero"`
	// Topic is the clicks topic (default "clicks").
	Topic string `json:"topic,omitempty"`
	// LinkEventsTopic is the link-events topic (default: the shortify
	// app's, else "shortify.link-events"); "-" consumes none.
	LinkEventsTopic string `json:"link_events_topic,omitempty"`
	// Group is the consumer group (default "shortify-stats").
	Group string `json:"group,omitempty"`
	// Database is the stats database's DSN, postgres://… or
	// sqlite://PATH. Default: the shortify app's stats_database.
	Database string `json:"database,omitempty"`
	// MaxPollRecords bounds one poll (default 50000; 2000 on SQLite).
	MaxPollRecords int `json:"max_poll_records,omitempty"`
	// MaxBatchEvents bounds a batch, which is one or more polls written in
	// one transaction (default 250000; 2000 on SQLite).
	MaxBatchEvents int `json:"max_batch_events,omitempty"`
	// Linger is how long a batch goes on polling after its first records
	// before it is written, unless full sooner (default 1s; negative:
	// every poll at once). Most of the delay from click to visible count
	// when traffic is light.
	Linger caddy.Duration `json:"linger,omitempty"`
	// RawClicks keeps a row per click in the clicks table.
	RawClicks bool `json:"raw_clicks,omitempty"`
	// KeepDeleted keeps the statistics of deleted links.
	KeepDeleted bool `json:"keep_deleted,omitempty"`
	// SessionTimeout is how long the consumer group waits for a member
	// that stopped heartbeating (killed, cut off) before its partitions go
	// to the others (default 10s, within 6s..30m, the brokers' default
	// bounds); heartbeats go every tenth of it. Shorter takes over sooner
	// after a crash; longer rides out pauses without a rebalance.
	SessionTimeout caddy.Duration `json:"session_timeout,omitempty"`
	// RebalanceTimeout is how long members may take to rejoin in a
	// rebalance, finishing their batch in flight (default 1m, within
	// 10s..30m and above twice the linger).
	RebalanceTimeout caddy.Duration `json:"rebalance_timeout,omitempty"`

	logger   *slog.Logger
	metrics  *metrics
	registry *prometheus.Registry // this config's (nil: no metrics)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "shortify_ingest",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills the defaults, from the shortify app when configured. It
// connects to nothing.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	a.metrics = newMetrics()
	a.registry = ctx.GetMetricsRegistry()
	// Without the shortify app in this config, every setting is this
	// app's own.
	v, err := ctx.AppIfConfigured("shortify")
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
	case err != nil:
		return fmt.Errorf("shortify_ingest: the shortify app: %w", err)
	default:
		if cp, ok := v.(ControlPlane); ok {
			if len(a.Brokers) == 0 {
				brokers, sec := cp.KafkaClient()
				a.Brokers = brokers
				if a.KafkaSecurity == (kafkasec.Config{}) {
					a.KafkaSecurity = sec
				}
			}
			a.Database = cmp.Or(a.Database, cp.StatsDSN())
			a.LinkEventsTopic = cmp.Or(a.LinkEventsTopic, cp.LinkEventsTopicName())
		}
	}
	a.Topic = cmp.Or(a.Topic, clickevents.DefaultTopic)
	a.Group = cmp.Or(a.Group, ingest.DefaultGroup)
	d, _ := storedsn.Parse(a.Database) // opening the database reports a bad DSN
	if a.MaxPollRecords == 0 && d.Dialect == storedsn.SQLite {
		// SQLite has one writer: a smaller batch holds the file's write
		// lock for less time, so link creates in the same file wait less.
		a.MaxPollRecords = sqliteMaxPollRecords
	}
	if a.MaxBatchEvents == 0 && d.Dialect == storedsn.SQLite {
		a.MaxBatchEvents = sqliteMaxPollRecords
	}
	a.MaxPollRecords = cmp.Or(a.MaxPollRecords, ingest.DefaultMaxPollRecords)
	a.MaxBatchEvents = cmp.Or(a.MaxBatchEvents, ingest.DefaultMaxBatchEvents)
	a.Linger = cmp.Or(a.Linger, caddy.Duration(ingest.DefaultLinger))
	a.SessionTimeout = cmp.Or(a.SessionTimeout, caddy.Duration(ingest.DefaultSessionTimeout))
	a.RebalanceTimeout = cmp.Or(a.RebalanceTimeout, caddy.Duration(ingest.DefaultRebalanceTimeout))
	return nil
}

// Validate checks the settings.
func (a *App) Validate() error {
	if err := kafkagroup.CheckSessionTimeout("shortify_ingest", time.Duration(a.SessionTimeout)); err != nil {
		return err
	}
	switch {
	case len(a.Brokers) == 0:
		return errors.New("shortify_ingest: no Kafka brokers (set brokers, or kafka_brokers in the shortify app)")
	case a.Database == "":
		return errors.New("shortify_ingest: no stats database (set database, or stats_database in the shortify app)")
	case a.MaxPollRecords < 1 || a.MaxPollRecords > 1_000_000:
		return fmt.Errorf("shortify_ingest: max_poll_records %d is outside 1..1000000", a.MaxPollRecords)
	case a.MaxBatchEvents < 1 || a.MaxBatchEvents > 10_000_000:
		return fmt.Errorf("shortify_ingest: max_batch_events %d is outside 1..10000000", a.MaxBatchEvents)
	case a.RebalanceTimeout < minRebalanceTimeout || time.Duration(a.RebalanceTimeout) > kafkagroup.MaxTimeout:
		return fmt.Errorf("shortify_ingest: rebalance_timeout %v is outside %v..%v",
			time.Duration(a.RebalanceTimeout), time.Duration(minRebalanceTimeout), kafkagroup.MaxTimeout)
	case a.RebalanceTimeout <= 2*a.Linger:
		return fmt.Errorf("shortify_ingest: rebalance_timeout %v must exceed twice the linger (%v): a member holds a rebalance that long",
			time.Duration(a.RebalanceTimeout), time.Duration(a.Linger))
	}
	return a.KafkaSecurity.Validate("shortify_ingest")
}

// Start runs the consumer in the background: it opens the stats database
// (retrying while it is unreachable, so that Caddy starts regardless) and
// consumes until Stop.
func (a *App) Start() error {
	if a.registry != nil {
		if err := a.metrics.register(a.registry); err != nil {
			return fmt.Errorf("shortify_ingest: metrics: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Go(func() {
		defer tracing.Hold(ctx, a.logger)() // the process's tracer provider while consuming
		a.run(ctx)
	})
	return nil
}

// Stop stops the consumer after its current batch and waits for it, and
// takes the metrics out of the config's registry.
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.registry != nil {
		a.metrics.unregister(a.registry)
	}
	return nil
}

func (a *App) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := a.consume(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.logger.Error("shortify_ingest: consumer stopped, restarting", "err", err, "retry_in", retryEvery)
		select {
		case <-ctx.Done():
		case <-time.After(retryEvery):
		}
	}
}

func (a *App) consume(ctx context.Context) error {
	db, err := statsdb.Open(ctx, statsdb.Config{
		DSN: a.Database, Migrate: true, RawClicks: a.RawClicks, KeepDeleted: a.KeepDeleted, Logger: a.logger,
	})
	if err != nil {
		return err
	}
	defer db.Close()
	sec, err := a.KafkaSecurity.Opts()
	if err != nil {
		return fmt.Errorf("shortify_ingest: %w", err)
	}
	c, err := ingest.New(ingest.Config{
		Brokers: a.Brokers, ClicksTopic: a.Topic, LinkEventsTopic: a.LinkEventsTopic, Group: a.Group,
		MaxPollRecords: a.MaxPollRecords, MaxBatchEvents: a.MaxBatchEvents, Linger: time.Duration(a.Linger),
		SessionTimeout: time.Duration(a.SessionTimeout), RebalanceTimeout: time.Duration(a.RebalanceTimeout),
		DB: db, Logger: a.logger, OnBatch: a.metrics.onBatch, ClientOpts: sec,
	})
	if err != nil {
		return err
	}
	defer a.metrics.running(c)()
	lagCtx, stopLag := context.WithCancel(ctx)
	var lag sync.WaitGroup
	lag.Go(func() { a.metrics.watchLag(lagCtx, c) })
	defer lag.Wait()
	defer stopLag()
	a.logger.Info("shortify_ingest: consuming", "brokers", a.Brokers, "topic", a.Topic, "group", a.Group)
	return c.Run(ctx)
}

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
