package controlplane

import "github.com/shortify/shortify/internal/kafkasec"

// The stats services of the same config (shortify_ingest, shortify_stats)
// take these settings from the app through small interfaces of their own
// (stats.ControlPlane, handler.ControlPlane), so that stats/ does not
// depend on the control plane. They are read after Provision.

// StatsDSN returns the stats database's DSN (stats_database, default
// database).
func (a *App) StatsDSN() string { return a.StatsDatabase }

// KafkaClient returns the Kafka brokers and how a client authenticates to
// them (kafka_brokers, kafka_security).
func (a *App) KafkaClient() ([]string, kafkasec.Config) { return a.KafkaBrokers, a.KafkaSecurity }

// LinkEventsTopicName returns the link-events topic (link_events_topic).
func (a *App) LinkEventsTopicName() string { return a.LinkEventsTopic }
