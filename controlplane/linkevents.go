package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/cleanup"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
)

// eventSettings configure the link-events producer and the leader's
// cleanup of expired links (App's kafka_brokers, link_events_topic and
// cleanup_* settings).
type eventSettings struct {
	KafkaBrokers     string // space-separated, so that the struct compares; empty: no events
	KafkaSecurity    kafkasec.Config
	KafkaKey         string // KafkaSecurity.Key(): what its placeholders expand to
	Topic            string
	CleanupBatchSize int
	CleanupInterval  time.Duration
	CleanupRate      float64
}

// startLinkEvents creates the link-events producer when brokers are
// configured. It does not connect: a Kafka that is down delays nothing,
// and events wait in the producer's bounded buffer (or are dropped and
// counted).
func (s *service) startLinkEvents(log *slog.Logger) error {
	brokers := strings.Fields(s.cfg.Events.KafkaBrokers)
	if len(brokers) == 0 {
		log.Info("link events off: no kafka_brokers configured")
		return nil
	}
	p, err := producer.New(producer.Config{
		Brokers:  brokers,
		Topic:    s.cfg.Events.Topic,
		ClientID: "shortify-control-plane-" + s.cfg.NodeID,
		Security: s.cfg.Events.KafkaSecurity,
		Logger:   log.With("component", "link-events"),
	})
	if err != nil {
		return fmt.Errorf("shortify: link events: %w", err)
	}
	s.events = p
	log.Info("link events on", "brokers", brokers, "topic", p.Topic())
	return nil
}

// startCleanup starts the deletion of expired links, which runs while this
// node leads (the partition upkeep's leadership), publishing a deleted
// event per link when events are on and clearing L2 when there is Redis.
func (s *service) startCleanup(log *slog.Logger) (err error) {
	cfg := cleanup.Config{
		BatchSize: s.cfg.Events.CleanupBatchSize,
		Interval:  s.cfg.Events.CleanupInterval,
		Rate:      s.cfg.Events.CleanupRate,
		Logger:    log.With("component", "cleanup"),
		OnRun:     s.metrics.cleanupRun,
	}
	if s.events != nil {
		cfg.Events = s.events
	}
	if s.cache != nil {
		cfg.Cache = s.cache
	}
	s.cleaner, err = cleanup.New(s.store, s.lead, cfg)
	if err != nil {
		return fmt.Errorf("shortify: cleanup of expired links: %w", err)
	}
	s.cleaner.Start(context.Background())
	return nil
}

// validateEvents checks the link-events and cleanup settings.
func (a *App) validateEvents() error {
	for _, b := range a.KafkaBrokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return fmt.Errorf("shortify: kafka_brokers: %q is not host:port", b)
		}
	}
	if len(a.KafkaBrokers) > 0 {
		if err := a.KafkaSecurity.Validate("shortify"); err != nil {
			return err
		}
	}
	if !validTopic(a.LinkEventsTopic) {
		return fmt.Errorf("shortify: link_events_topic %q is not a Kafka topic name (1 to 249 characters of A-Z a-z 0-9 . _ -)", a.LinkEventsTopic)
	}
	if a.CleanupBatchSize < 1 || a.CleanupBatchSize > cleanup.MaxBatchSize {
		return fmt.Errorf("shortify: cleanup_batch_size %d is outside 1..%d", a.CleanupBatchSize, cleanup.MaxBatchSize)
	}
	if a.CleanupInterval <= 0 {
		return errors.New("shortify: cleanup_interval must be positive")
	}
	if !(a.CleanupRate > 0) || a.CleanupRate > 1000 {
		return fmt.Errorf("shortify: cleanup_rate %g is outside (0, 1000] batches a second", a.CleanupRate)
	}
	return nil
}

// fillEventDefaults sets the unset link-events and cleanup settings.
func (a *App) fillEventDefaults() {
	if a.LinkEventsTopic == "" {
		a.LinkEventsTopic = linkevents.DefaultTopic
	}
	if a.CleanupBatchSize == 0 {
		a.CleanupBatchSize = cleanup.DefaultBatchSize
	}
	if a.CleanupInterval == 0 {
		a.CleanupInterval = caddy.Duration(cleanup.DefaultInterval)
	}
	if a.CleanupRate == 0 {
		a.CleanupRate = cleanup.DefaultRate
	}
}

// eventSettings returns the app's link-events and cleanup settings.
func (a *App) eventSettings() eventSettings {
	return eventSettings{
		KafkaBrokers:     strings.Join(a.KafkaBrokers, " "),
		KafkaSecurity:    a.KafkaSecurity,
		KafkaKey:         a.KafkaSecurity.Key(),
		Topic:            a.LinkEventsTopic,
		CleanupBatchSize: a.CleanupBatchSize,
		CleanupInterval:  time.Duration(a.CleanupInterval),
		CleanupRate:      a.CleanupRate,
	}
}

// validTopic reports whether name is a legal Kafka topic name.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
