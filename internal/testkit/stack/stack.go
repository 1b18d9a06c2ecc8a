// Package stack runs Shortify's production shape on one machine, every
// part a process of its own on the loopback interface: a private
// PostgreSQL primary with a streaming replica, a Redis Cluster (three
// masters, three replicas), the Kafka-protocol broker, a 3-node control
// plane, two edges behind a Caddy front door and two stats instances
// sharing one consumer group. The Shortify processes run the role
// Caddyfiles of deploy/caddyfiles unchanged, set up by environment
// variables as in docker compose and Kubernetes. A workspace "acme" with
// the verified custom domain go.acme.test and a link on it shows a
// customer's domain served through the front door (domain.go). `make stack`
// (cmd/shortify-stack) and the end-to-end test (e2e/stack/stack_test.go) both
// start it here.
package stack

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// kafkaCaddyfile runs the binary with the shortify_kafka app only.
//
//go:embed kafka.Caddyfile
var kafkaCaddyfile []byte

// Databases on the private PostgreSQL cluster.
const (
	LinkDatabase  = "shortify"
	StatsDatabase = "shortify_stats"
)

// StatsSessionTimeout is the stats instances' consumer-group session
// timeout (SHORTIFY_STATS_SESSION_TIMEOUT): the brokers' least, so that
// the partitions of a stats instance killed with -9 go to the other within
// seconds (production keeps the Caddyfile's 10 s).
const StatsSessionTimeout = 6 * time.Second

// Config says what to run and where.
type Config struct {
	// Dir holds every process's data and log. Start refuses a Dir that
	// holds a stack already: remove it first (cmd/shortify-stack does).
	// When this runs as root, PostgreSQL runs as the postgres user; if
	// that user cannot enter Dir's parents, its servers' directories are
	// made under TMPDIR and linked from Dir/postgres (procs.PGConfig), and
	// procs.RemoveServerDirs removes them.
	Dir string
	// Binary is the shortify binary (make build: bin/shortify).
	Binary string
	// Caddyfiles is the directory of the role Caddyfiles
	// (deploy/caddyfiles).
	Caddyfiles string
	// Ports is where everything listens (FixedPorts or FreePorts).
	Ports Ports
	// Env is added to every Shortify process's environment, after the
	// stack's own (SHORTIFY_CACHE_TTL=1s, say).
	Env []string
	// Logf reports progress; nil: silent.
	Logf func(format string, args ...any)
}

// Stack is a running stack. Its fields name the processes; Stop stops
// them all.
type Stack struct {
	// APIKey is the cluster's first admin key (an instance admin).
	APIKey string
	// WorkspaceKey is an admin key of the workspace Workspace, which
	// holds CustomDomain (domain.go).
	WorkspaceKey string
	// Primary and Replica are the link and stats databases' servers.
	Primary, Replica *procs.Postgres
	// Redis is the Redis Cluster.
	Redis *procs.RedisCluster
	// Kafka is the broker process; KafkaAddr its host:port.
	Kafka     *Node
	KafkaAddr string
	// Nodes are the control-plane nodes, Edges the edges, Stats the stats
	// instances, FrontDoor the load balancer in front of them.
	Nodes, Edges, Stats []*Node
	FrontDoor           *Node

	cfg   Config
	logf  func(format string, args ...any)
	kafka *kafkaSecurity // the broker's CA and users (kafka.go)
}

// Start starts the whole stack and returns once every part is ready: the
// replica streams, the Redis Cluster is formed, the control plane has
// three voters and each node is ready to issue codes, every edge,
// stats instance and the front door answer their health checks, and the
// custom domain CustomDomain of the workspace Workspace redirects its
// link DemoAlias through the front door and every edge. On error
// it stops what it started.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	s := &Stack{cfg: cfg, logf: cfg.Logf}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	for _, p := range []*string{&cfg.Dir, &cfg.Binary, &cfg.Caddyfiles} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	s.cfg = cfg
	if _, err := os.Stat(filepath.Join(cfg.Dir, "postgres")); err == nil {
		return nil, fmt.Errorf("%s holds a stack already; remove it first", cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("stack directory: %w", err)
	}
	// The postgres user (when this runs as root) must get through it.
	if err := os.Chmod(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("stack directory: %w", err)
	}
	key, err := apikey.New()
	if err != nil {
		return nil, fmt.Errorf("initial API key: %w", err)
	}
	s.APIKey = key.Secret

	// The engines, side by side: PostgreSQL (primary, databases, then
	// replica), the Redis Cluster and the broker.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = s.startPostgres(ctx) })
	wg.Go(func() { errs[1] = s.startRedis(ctx) })
	wg.Go(func() { errs[2] = s.startKafka(ctx) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := s.startControlPlane(ctx); err != nil {
		return nil, err
	}
	if err := s.startEdgesAndStats(ctx); err != nil {
		return nil, err
	}
	if err := s.startFrontDoor(ctx); err != nil {
		return nil, err
	}
	if err := s.setupCustomDomain(ctx); err != nil {
		return nil, fmt.Errorf("custom domain %s: %w", CustomDomain, err)
	}
	return s, nil
}

func (s *Stack) startPostgres(ctx context.Context) error {
	bin, err := procs.PGBinDir("")
	if err != nil {
		return err
	}
	p := s.cfg.Ports
	s.Primary, err = procs.InitPrimary(ctx, procs.PGConfig{
		Dir: filepath.Join(s.cfg.Dir, "postgres", "primary"), Addr: hostPort(host, p.Primary), BinDir: bin,
		Settings: map[string]string{"max_connections": "200"},
	})
	if err != nil {
		return fmt.Errorf("PostgreSQL primary: %w", err)
	}
	for _, db := range []string{LinkDatabase, StatsDatabase} {
		if err := s.Primary.Query(ctx, "CREATE DATABASE "+db); err != nil {
			return fmt.Errorf("create database %s: %w", db, err)
		}
	}
	s.logf("PostgreSQL primary on %s", s.Primary.Addr)
	s.Replica, err = procs.StartReplica(ctx, procs.ReplicaConfig{
		PGConfig:   procs.PGConfig{Dir: filepath.Join(s.cfg.Dir, "postgres", "replica"), Addr: hostPort(host, p.Replica), BinDir: bin},
		PrimaryDSN: s.Primary.DSN("postgres"),
		AppName:    "shortify-stack-replica",
	})
	if err != nil {
		return fmt.Errorf("PostgreSQL replica: %w", err)
	}
	s.logf("PostgreSQL replica on %s, streaming", s.Replica.Addr)
	return nil
}

func (s *Stack) startRedis(ctx context.Context) error {
	dir := filepath.Join(s.cfg.Dir, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	if s.Redis, err = procs.StartRedisCluster(ctx, dir, s.cfg.Ports.Redis); err != nil {
		return fmt.Errorf("Redis Cluster: %w", err)
	}
	s.logf("Redis Cluster on %s", s.Redis.Seeds())
	return nil
}

func (s *Stack) startKafka(ctx context.Context) error {
	dir := filepath.Join(s.cfg.Dir, "kafka")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "Caddyfile")
	err := os.WriteFile(conf, kafkaCaddyfile, 0o644)
	if err != nil {
		return err
	}
	s.KafkaAddr = hostPort(host, s.cfg.Ports.Kafka)
	if s.kafka, err = newKafkaSecurity(dir, host); err != nil {
		return err
	}
	s.Kafka = &Node{Name: "kafka", Dir: dir, config: conf, bin: s.cfg.Binary, env: append([]string{
		"SHORTIFY_ADMIN=" + hostPort(host, s.cfg.Ports.KafkaAdmin),
		"SHORTIFY_KAFKA_LISTEN=" + s.KafkaAddr,
		"SHORTIFY_DATA_DIR=" + filepath.Join(dir, "data"),
	}, s.kafka.brokerEnv()...)}
	if err := s.Kafka.start(); err != nil {
		return err
	}
	if err := procs.Poll(ctx, "the broker on "+s.KafkaAddr, 20*time.Millisecond, s.Kafka.proc, func(context.Context) error {
		return dial(s.KafkaAddr)
	}); err != nil {
		return err
	}
	s.logf("Kafka-protocol broker on %s", s.KafkaAddr)
	return nil
}

// roleEnv is the environment every Shortify role shares.
func (s *Stack) roleEnv(bind string, admin, port, ops int) []string {
	env := []string{
		"SHORTIFY_ADMIN=" + hostPort(bind, admin),
		"SHORTIFY_BIND=" + bind,
		"SHORTIFY_OPS_PORT=" + strconv.Itoa(ops),
		"SHORTIFY_KAFKA_BROKERS=" + s.KafkaAddr,
		"SHORTIFY_REDIS=" + s.Redis.Seeds(),
		"SHORTIFY_DATABASE_URL=" + s.Primary.DSN(LinkDatabase),
		"SHORTIFY_STATS_DATABASE_URL=" + s.Primary.DSN(StatsDatabase),
	}
	if port != 0 {
		env = append(env, "SHORTIFY_PORT="+strconv.Itoa(port))
	}
	return env
}

// Stop stops every process, the clients first and the engines last, and
// returns what did not stop cleanly. Killed processes are skipped.
func (s *Stack) Stop() error {
	var errs []error
	stopAll := func(nodes ...*Node) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, n := range nodes {
			if n == nil || n.proc == nil {
				continue
			}
			wg.Go(func() {
				if err := n.Stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	stopAll(s.FrontDoor)
	stopAll(append(append([]*Node(nil), s.Edges...), s.Stats...)...)
	stopAll(s.Nodes...)
	stopAll(s.Kafka)
	if s.Redis != nil {
		s.Redis.Stop()
	}
	for _, pg := range []*procs.Postgres{s.Replica, s.Primary} {
		if pg != nil {
			if err := pg.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// randomHex returns n random bytes in hex, for secrets.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// URLs lists where to reach the stack, for `make stack` to print.
func (s *Stack) URLs() string {
	var b strings.Builder
	fmt.Fprintf(&b, "front door (redirects, API, dashboard): %s\n", s.FrontDoor.URL)
	fmt.Fprintf(&b, "dashboard:                              %s/dashboard/\n", s.FrontDoor.URL)
	s.domainURLs(&b)
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, "control plane %s API:                %s/api/v1/  metrics %s/metrics\n", n.Name, n.URL, n.Ops)
	}
	for _, n := range s.Edges {
		fmt.Fprintf(&b, "%s redirects:                        %s/{code}  metrics %s/metrics\n", n.Name, n.URL, n.Ops)
	}
	for _, n := range s.Stats {
		fmt.Fprintf(&b, "%s ingest metrics:                  %s/metrics\n", n.Name, n.Ops)
	}
	fmt.Fprintf(&b, "front door metrics:                     %s/metrics\n", s.FrontDoor.Ops)
	fmt.Fprintf(&b, "PostgreSQL primary:                     %s\n", s.Primary.DSN(LinkDatabase))
	fmt.Fprintf(&b, "PostgreSQL replica:                     %s\n", s.Replica.DSN(LinkDatabase))
	fmt.Fprintf(&b, "stats database:                         %s\n", s.Primary.DSN(StatsDatabase))
	fmt.Fprintf(&b, "Redis Cluster:                          %s\n", s.Redis.Seeds())
	fmt.Fprintf(&b, "Kafka-protocol broker:                  %s\n", s.KafkaAddr)
	fmt.Fprintf(&b, "admin API key:                          %s\n", s.APIKey)
	fmt.Fprintf(&b, "logs and data:                          %s/*/\n", s.cfg.Dir)
	return b.String()
}
