// Package kafkabroker runs the in-process Kafka-protocol broker of the
// embedded default: franz-go's kfake, one broker, with a data directory so
// that topics and records survive a restart, and the topics Shortify uses
// (clicks, shortify.link-events) created at start. The edge, the control
// plane and the stats service talk to it with the same franz-go code that
// they use against a real Kafka; nothing else changes.
//
// It is meant for one machine and development-sized traffic: kfake keeps
// every partition's records in memory as well as on disk, offers no
// replication, and applies no retention. Production runs a real Kafka
// (see deploy/).
//
// Package caddyapp runs it as the Caddy app shortify_kafka, so that the
// top-level Caddyfile can run the broker in the same process; tests use
// Start directly (and package kafkatest to read what was written).
package kafkabroker

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
)

// Defaults of Config.
const (
	DefaultListen     = "127.0.0.1:9092"
	DefaultPartitions = 4
)

// DefaultTopics are the topics created unless configured: the clicks the
// edge writes and the link events the control plane writes.
var DefaultTopics = []string{clickevents.DefaultTopic, linkevents.DefaultTopic}

// Config configures a Broker.
type Config struct {
	// Listen is the host:port to listen on (default DefaultListen; port
	// 0 picks a free one). Clients are told to connect to the address
	// actually listened on, so use a host they can reach (not 0.0.0.0
	// for clients on other machines).
	Listen string
	// DataDir keeps the broker's state (topics, records, committed
	// offsets) across restarts; "" keeps it in memory only.
	DataDir string
	// Topics are created at start when missing (default DefaultTopics).
	Topics []string
	// Partitions is the partition count of the topics created (default
	// DefaultPartitions). Existing topics keep theirs.
	Partitions int
	// TLS, when set, makes the broker speak only TLS with it (set
	// ClientCAs and ClientAuth for mutual TLS). Nil: plaintext, fit for
	// a loopback address only.
	TLS *tls.Config
	// Users, when any, turn SASL/SCRAM authentication and ACLs on (see
	// User). They and their ACLs come from the configuration alone, also
	// with a data directory written before (a changed password or ACL
	// takes effect at the next start). None: anyone who can connect may
	// do anything, fit for a loopback address only.
	Users []User
}

// Broker is a running broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts a broker and creates the configured topics that are
// missing; it returns once clients can produce to them.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.Listen = cmp.Or(cfg.Listen, DefaultListen)
	if cfg.Topics == nil {
		cfg.Topics = DefaultTopics
	}
	cfg.Partitions = cmp.Or(cfg.Partitions, DefaultPartitions)
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("kafkabroker: %d partitions, want at least 1", cfg.Partitions)
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("kafkabroker: listen address %q: %w", cfg.Listen, err)
	}
	if err := validateUsers(cfg.Users); err != nil {
		return nil, err
	}
	if cfg.DataDir != "" {
		if err := resetSecurityState(cfg); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("kafkabroker: listen on %s: %w", cfg.Listen, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(cfg.Partitions),
		// kfake listens on 127.0.0.1 itself; hand it ours instead, so
		// that any host works and a bad address fails above.
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	opts = append(opts, securityOpts(cfg)...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("kafkabroker: start (data dir %q): %w", cfg.DataDir, err)
	}
	b := &Broker{cluster: c, addr: ln.Addr().String()}
	if err := b.CreateTopics(cfg.Topics, cfg.Partitions); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Addr returns the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, writing its state to the data directory first.
// Clients connected to it see their connections fail, and reconnect when
// a broker listens on the address again. Later calls do nothing.
func (b *Broker) Close() {
	b.cluster.Close()
}

// CreateTopics creates those of topics that do not exist, with the given
// number of partitions; existing topics are left as they are. Start calls
// it on every start (kfake seeds topics only into an empty data
// directory), so that a topic added to the configuration appears in an
// old directory too. It goes to the cluster directly, not through a
// client, so it needs no credentials and no ACL.
func (b *Broker) CreateTopics(topics []string, partitions int) error {
	var errs []error
	for _, name := range topics {
		if err := b.cluster.CreateTopic(name, int32(partitions), nil); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("kafkabroker: create topic %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
