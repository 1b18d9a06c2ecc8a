// Package caddyapp runs the embedded Kafka-protocol broker (package
// kafkabroker) as the Caddy app shortify_kafka, so that the top-level
// Caddyfile can run it in the same process as the edge, the control plane
// and the stats service:
//
//	{
//		shortify_kafka {
//			listen   127.0.0.1:9092
//			data_dir ./data/kafka
//		}
//	}
//
// On loopback it may run in plaintext without users (`make run`). Reachable
// from other hosts, it should have TLS (tls_cert, tls_key; tls_client_ca
// for mutual TLS) and users with ACLs (sasl_user), so that only the
// control plane can write link events (see internal/testkit/stack/kafka.Caddyfile).
package caddyapp

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/kafkabroker"
)

func init() {
	caddy.RegisterModule(new(App))
}

// startTimeout bounds starting the broker and creating its topics.
const startTimeout = 30 * time.Second

// App runs the embedded broker inside Caddy, as the app shortify_kafka.
// Configure it with the `shortify_kafka` global option in a Caddyfile
// (caddyfile.go) or as the "shortify_kafka" app in JSON.
//
// The broker lives in a caddy.UsagePool keyed by its listen address and
// data directory: a config reload starts the new config's app before it
// stops the old one, and both cannot listen on one address nor own one
// data directory, so the new config takes over the running broker.
type App struct {
	// Listen is the host:port the broker listens on (default
	// 127.0.0.1:9092). Clients are told to connect to it, so give a host
	// they can reach.
	Listen string `json:"listen,omitempty"`
	// DataDir keeps topics, records and committed offsets across
	// restarts. Default: Caddy's data directory + "/shortify/kafka".
	DataDir string `json:"data_dir,omitempty"`
	// Topics are created at start when missing (default clicks and
	// shortify.link-events).
	Topics []string `json:"topics,omitempty"`
	// Partitions is the partition count of topics it creates (default
	// 4); existing topics keep theirs.
	Partitions int `json:"partitions,omitempty"`
	// Disabled makes the app do nothing, so that one Caddyfile serves
	// the embedded default and a setup with a real Kafka.
	Disabled bool `json:"disabled,omitempty"`
	// TLSCert and TLSKey are the broker's certificate and key (PEM
	// files): set, the broker speaks only TLS. Placeholders are expanded.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// TLSClientCA is a PEM file of the CAs whose client certificates the
	// broker requires (mutual TLS). Needs TLSCert.
	TLSClientCA string `json:"tls_client_ca,omitempty"`
	// Users are the SASL/SCRAM users (SCRAM-SHA-256 and -512) and their
	// ACLs. Any user turns authentication and ACLs on: every client must
	// log in, and may do only what its user is allowed. They come from
	// this config alone, also over an old data directory (rotate a
	// password by changing it and restarting).
	Users []User `json:"users,omitempty"`

	logger *slog.Logger
	key    string
	broker *kafkabroker.Broker
	tls    *tls.Config        // built in Provision from the files
	users  []kafkabroker.User // with passwords resolved
}

// User is a SASL user of the embedded broker and its ACLs.
type User struct {
	// Name is the SASL user name.
	Name string `json:"name"`
	// Password is its password: give a placeholder
	// ({env.SHORTIFY_KAFKA_EDGE_PASSWORD}), expanded at provision and
	// refused when weak or a shipped default (secret.Check).
	Password string `json:"password"`
	// Superuser bypasses the ACLs.
	Superuser bool `json:"superuser,omitempty"`
	// Read are the topics the user may consume.
	Read []string `json:"read,omitempty"`
	// Write are the topics the user may produce to.
	Write []string `json:"write,omitempty"`
	// Groups are the consumer groups the user may use.
	Groups []string `json:"groups,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "shortify_kafka",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills defaults. It starts nothing: that happens in Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	a.Listen = cmp.Or(a.Listen, kafkabroker.DefaultListen)
	a.DataDir = cmp.Or(a.DataDir, filepath.Join(caddy.AppDataDir(), "shortify", "kafka"))
	abs, err := filepath.Abs(a.DataDir)
	if err != nil {
		return fmt.Errorf("shortify_kafka: data_dir %q: %w", a.DataDir, err)
	}
	a.DataDir = abs
	if a.Topics == nil {
		a.Topics = kafkabroker.DefaultTopics
	}
	a.Partitions = cmp.Or(a.Partitions, kafkabroker.DefaultPartitions)
	return a.provisionSecurity()
}

// Validate checks the settings.
func (a *App) Validate() error {
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return fmt.Errorf("shortify_kafka: listen %q: %w", a.Listen, err)
	}
	if a.Partitions < 1 || a.Partitions > 1000 {
		return fmt.Errorf("shortify_kafka: partitions %d is outside 1..1000", a.Partitions)
	}
	for _, t := range a.Topics {
		if t == "" {
			return errors.New("shortify_kafka: empty topic name")
		}
	}
	return a.validateSecurity()
}

// brokers holds the running brokers by listen address and data directory.
var brokers = caddy.NewUsagePool()

// pooled is a Broker in the usage pool.
type pooled struct{ *kafkabroker.Broker }

// Destruct stops the broker when no config uses it any more.
func (p pooled) Destruct() error {
	p.Close()
	return nil
}

// Start starts the broker, or takes over the one a previous config
// started, and creates the configured topics that are missing.
func (a *App) Start() error {
	if a.Disabled {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cfg := kafkabroker.Config{Listen: a.Listen, DataDir: a.DataDir, Topics: a.Topics, Partitions: a.Partitions,
		TLS: a.tls, Users: a.users}
	// The security settings are part of the key: a reload that changes
	// them restarts the broker (the new config starts before the old
	// stops, so a changed key on the same address fails: restart the
	// process to change them).
	key := a.Listen + "\x00" + a.DataDir + "\x00" + a.securityKey()
	v, loaded, err := brokers.LoadOrNew(key, func() (caddy.Destructor, error) {
		b, err := kafkabroker.Start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return pooled{b}, nil
	})
	if err != nil {
		return fmt.Errorf("shortify_kafka: %w", err)
	}
	b := v.(pooled).Broker
	if loaded {
		// The broker was started by an earlier config, whose topics
		// may differ.
		if err := b.CreateTopics(a.Topics, a.Partitions); err != nil {
			_, _ = brokers.Delete(key)
			return fmt.Errorf("shortify_kafka: %w", err)
		}
	}
	a.key, a.broker = key, b
	a.logger.Info("embedded Kafka broker running", "listen", b.Addr(), "data_dir", a.DataDir,
		"topics", a.Topics, "reused", loaded, "tls", a.tls != nil, "mutual_tls", a.TLSClientCA != "", "users", len(a.users))
	a.warnIfOpen()
	return nil
}

// Stop releases this config's hold on the broker; it stops (writing its
// state to the data directory) when no config holds it any more.
func (a *App) Stop() error {
	if a.broker == nil {
		return nil
	}
	a.broker = nil
	if _, err := brokers.Delete(a.key); err != nil {
		return fmt.Errorf("shortify_kafka: stop: %w", err)
	}
	return nil
}

// Addr returns the address the broker listens on, "" when it is not
// running.
func (a *App) Addr() string {
	if a.broker == nil {
		return ""
	}
	return a.broker.Addr()
}

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
	_ caddy.Destructor  = pooled{}
)
