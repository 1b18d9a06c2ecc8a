// Package caddyapp runs the webhooks deliverer (webhooks/deliver) as a
// Caddy app: the `shortify_webhooks` global option, the
// "shortify_webhooks" app in JSON. Any number of Caddy instances may run
// it against one link database and one Kafka: they share the topics'
// partitions in one consumer group and the due deliveries by lease.
//
// Settings left empty are taken from the control plane's `shortify` app
// when it is in the same config: its kafka_brokers and Kafka security,
// link_events_topic, database, public_url and outbound_allow_private.
package caddyapp

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
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/webhooks/deliver"
)

func init() {
	caddy.RegisterModule(new(App))
}

const (
	// retryEvery is the pause before a stopped consumer or an
	// unreachable database is tried again.
	retryEvery = 5 * time.Second
	// pruneEvery is how often old delivered and failed deliveries are
	// deleted.
	pruneEvery = time.Hour
	// DefaultRetention keeps the delivery log this long.
	DefaultRetention = 30 * 24 * time.Hour
)

// ControlPlane is what the deliverer takes from the shortify app of the
// same config (*controlplane.App has it) for the settings it leaves
// unset. An interface, so that the deliverer does not depend on the
// control plane.
type ControlPlane interface {
	KafkaClient() (brokers []string, security kafkasec.Config)
	LinkEventsTopicName() string
	LinkDSN() string
	PublicBaseURL() string
}

// outboundPolicy is the shortify app's outbound_allow_private, when it
// has the setting.
type outboundPolicy interface {
	OutboundAllowsPrivate() bool
}

// App runs the deliverer.
type App struct {
	// Brokers are the Kafka brokers (host:port). Default: the shortify
	// app's kafka_brokers.
	Brokers []string `json:"brokers,omitempty"`
	// KafkaSecurity is how the consumer authenticates and encrypts
	// (package kafkasec; Caddyfile kafka_tls_*, kafka_sasl_*). Default:
	// when the brokers are the shortify app's, its settings.
	KafkaSecurity kafkasec.Config `json:"kafka_security,omitzero"`
	// ClicksTopic is the clicks topic (default "clicks"); "-" delivers
	// no link.clicked.
	ClicksTopic string `json:"clicks_topic,omitempty"`
	// LinkEventsTopic is the link-events topic (default: the shortify
	// app's, else "shortify.link-events"); "-" delivers no link events.
	LinkEventsTopic string `json:"link_events_topic,omitempty"`
	// Group is the consumer group (default "shortify-webhooks").
	Group string `json:"group,omitempty"`
	// Database is the link database's DSN (endpoints and deliveries are
	// kept there, links are read from it). Default: the shortify app's
	// database.
	Database string `json:"database,omitempty"`
	// PublicURL is the base of short URLs in payloads. Default: the
	// shortify app's public_url; none: payloads have no short_url for
	// links on the instance's own host.
	PublicURL string `json:"public_url,omitempty"`
	// OutboundAllowPrivate lets endpoints be at private, loopback and
	// other special addresses (checked when connecting). Default: the
	// shortify app's outbound_allow_private, else off.
	OutboundAllowPrivate *bool `json:"outbound_allow_private,omitempty"`
	// Concurrency bounds the attempts under way (default 16).
	Concurrency int `json:"concurrency,omitempty"`
	// Timeout bounds one attempt (default 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// SessionTimeout is the consumer group's session timeout (default
	// 10s, within 6s..30m).
	SessionTimeout caddy.Duration `json:"session_timeout,omitempty"`
	// Retention keeps delivered and failed deliveries in the log
	// (default 720h, 30 days).
	Retention caddy.Duration `json:"retention,omitempty"`

	logger   *slog.Logger
	metrics  *deliver.Metrics
	registry *prometheus.Registry
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "shortify_webhooks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills the defaults, from the shortify app when configured. It
// connects to nothing.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	a.metrics = deliver.NewMetrics()
	a.registry = ctx.GetMetricsRegistry()
	v, err := ctx.AppIfConfigured("shortify")
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
	case err != nil:
		return fmt.Errorf("shortify_webhooks: the shortify app: %w", err)
	default:
		if cp, ok := v.(ControlPlane); ok {
			if len(a.Brokers) == 0 {
				brokers, sec := cp.KafkaClient()
				a.Brokers = brokers
				if a.KafkaSecurity == (kafkasec.Config{}) {
					a.KafkaSecurity = sec
				}
			}
			a.LinkEventsTopic = cmp.Or(a.LinkEventsTopic, cp.LinkEventsTopicName())
			a.Database = cmp.Or(a.Database, cp.LinkDSN())
			a.PublicURL = cmp.Or(a.PublicURL, cp.PublicBaseURL())
		}
		if p, ok := v.(outboundPolicy); ok && a.OutboundAllowPrivate == nil {
			allow := p.OutboundAllowsPrivate()
			a.OutboundAllowPrivate = &allow
		}
	}
	a.ClicksTopic = cmp.Or(a.ClicksTopic, clickevents.DefaultTopic)
	a.LinkEventsTopic = cmp.Or(a.LinkEventsTopic, linkevents.DefaultTopic)
	a.Group = cmp.Or(a.Group, deliver.DefaultGroup)
	a.Concurrency = cmp.Or(a.Concurrency, deliver.DefaultConcurrency)
	a.Timeout = cmp.Or(a.Timeout, caddy.Duration(deliver.DefaultTimeout))
	a.SessionTimeout = cmp.Or(a.SessionTimeout, caddy.Duration(deliver.DefaultSessionTimeout))
	a.Retention = cmp.Or(a.Retention, caddy.Duration(DefaultRetention))
	return nil
}

// Validate checks the settings.
func (a *App) Validate() error {
	if err := kafkagroup.CheckSessionTimeout("shortify_webhooks", time.Duration(a.SessionTimeout)); err != nil {
		return err
	}
	switch {
	case len(a.Brokers) == 0:
		return errors.New("shortify_webhooks: no Kafka brokers (set brokers, or kafka_brokers in the shortify app)")
	case a.Database == "":
		return errors.New("shortify_webhooks: no link database (set database, or database in the shortify app)")
	case a.ClicksTopic == "-" && a.LinkEventsTopic == "-":
		return errors.New("shortify_webhooks: clicks_topic and link_events_topic are both \"-\": nothing to deliver")
	case a.Concurrency < 1 || a.Concurrency > 1000:
		return fmt.Errorf("shortify_webhooks: concurrency %d is outside 1..1000", a.Concurrency)
	case a.Timeout < caddy.Duration(time.Second) || a.Timeout > caddy.Duration(time.Minute):
		return fmt.Errorf("shortify_webhooks: timeout %v is outside 1s..1m", time.Duration(a.Timeout))
	case a.Retention < caddy.Duration(time.Hour):
		return fmt.Errorf("shortify_webhooks: retention %v is under 1h", time.Duration(a.Retention))
	}
	return a.KafkaSecurity.Validate("shortify_webhooks")
}

// Start runs the deliverer in the background: it opens the databases
// (retrying while they are unreachable, so that Caddy starts
// regardless), then consumes and sends until Stop.
func (a *App) Start() error {
	if a.registry != nil {
		if err := a.metrics.Register(a.registry); err != nil {
			return fmt.Errorf("shortify_webhooks: metrics: %w", err)
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

// Stop stops the consumer (after flushing what it gathered) and the
// sender (cancelling attempts under way), waits for them, and takes the
// metrics out of the config's registry.
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.registry != nil {
		a.metrics.Unregister(a.registry)
	}
	return nil
}

// allowPrivate is the outbound switch's value.
func (a *App) allowPrivate() bool {
	return a.OutboundAllowPrivate != nil && *a.OutboundAllowPrivate
}

// pause waits retryEvery or until ctx is done.
func pause(ctx context.Context) {
	t := time.NewTimer(retryEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
