package procs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server process without persistence, started by
// StartRedis.
type RedisServer struct {
	// Addr is the server's 127.0.0.1:port.
	Addr string

	*Process
}

// LookRedis finds a Redis binary (redis-server, redis-cli).
func LookRedis(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed (Debian: apt-get install redis-server, which brings redis-cli too): %w", name, err)
	}
	return p, nil
}

// StartRedis starts redis-server on 127.0.0.1:port with its files in dir
// (cluster: with cluster-enabled yes) and waits until it answers PING.
func StartRedis(ctx context.Context, dir string, port int, cluster bool) (*RedisServer, error) {
	return startRedis(ctx, dir, port, cluster, nil)
}

// RedisTLS are the PEM files of a redis-server that speaks TLS only.
type RedisTLS struct {
	// CertFile and KeyFile are the server's certificate and key.
	CertFile, KeyFile string
	// CAFile is the CA that issued them (redis-server wants one; clients
	// are not asked for certificates).
	CAFile string
}

// StartRedisTLS starts redis-server with TLS on 127.0.0.1:port and no
// plain-text port (--port 0), and waits until it answers PING over TLS.
func StartRedisTLS(ctx context.Context, dir string, port int, t RedisTLS) (*RedisServer, error) {
	return startRedis(ctx, dir, port, false, &t)
}

func startRedis(ctx context.Context, dir string, port int, cluster bool, t *RedisTLS) (*RedisServer, error) {
	bin, err := LookRedis("redis-server")
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa(port)
	s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", p)}
	plain := p
	if t != nil {
		plain = "0" // TLS only
	}
	args := []string{
		"--port", plain, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
	}
	opt := &redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second}
	if t != nil {
		if opt, err = tlsOptions(s.Addr, t.CAFile); err != nil {
			return nil, err
		}
		args = append(args, "--tls-port", p, "--tls-cert-file", t.CertFile,
			"--tls-key-file", t.KeyFile, "--tls-ca-cert-file", t.CAFile, "--tls-auth-clients", "no")
	}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+p+".conf",
			"--cluster-node-timeout", "2000")
		if t != nil {
			args = append(args, "--tls-cluster", "yes") // the bus too
		}
	}
	s.Process, err = Start("redis-server on "+s.Addr, exec.Command(bin, args...), filepath.Join(dir, "redis-"+p+".log"))
	if err != nil {
		return nil, err
	}
	cl := redis.NewClient(opt)
	defer cl.Close()
	if err := Poll(ctx, s.Process.Name+" to answer", 20*time.Millisecond, s.Process, func(ctx context.Context) error {
		// A bare dial first: go-redis logs every refused connection.
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			return err
		}
		c.Close()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return cl.Ping(cctx).Err()
	}); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

// tlsOptions are the options of a client of the TLS server at addr
// (127.0.0.1:port) that trusts caFile.
func tlsOptions(addr, caFile string) (*redis.Options, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("redis-server TLS: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("redis-server TLS: %s holds no PEM certificate", caFile)
	}
	return &redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}, nil
}

// Stop kills the server (it keeps nothing to flush) and waits for it.
func (s *RedisServer) Stop() { s.Process.Kill() }

// RedisCluster is a Redis Cluster of three masters with a replica each.
type RedisCluster struct {
	// Addrs are the six nodes' host:port addresses.
	Addrs []string
	// Servers are the six processes, in the order of Addrs.
	Servers []*RedisServer
}

// Seeds returns the nodes' addresses comma-separated, the form the edge's
// and the control plane's redis setting takes for a cluster.
func (c *RedisCluster) Seeds() string { return strings.Join(c.Addrs, ",") }

// Stop stops every node.
func (c *RedisCluster) Stop() {
	for _, s := range c.Servers {
		s.Stop()
	}
}

// StartRedisCluster starts six cluster-enabled redis-server processes on
// ports (six, each with port+10000 free for the cluster bus; nil: free
// ones) with their files in dir, joins them with `redis-cli --cluster
// create … --cluster-replicas 1`, and waits until every node sees the
// whole cluster ready. On error it stops what it started.
func StartRedisCluster(ctx context.Context, dir string, ports []int) (*RedisCluster, error) {
	return startCluster(ctx, 6, func(i int) (*RedisServer, error) {
		port, err := clusterPort(ports, i)
		if err != nil {
			return nil, err
		}
		return StartRedis(ctx, dir, port, true)
	}, []string{"--cluster-replicas", "1"}, func(ctx context.Context, i int, s *RedisServer) error {
		return clusterReady(ctx, s.Addr)
	})
}

// StartRedisClusterTLS starts a Redis Cluster of masters only, one
// redis-server per element of nodes, each speaking TLS only (clients and
// the cluster bus) with its certificate, on free ports with their files
// in dir; it joins them with `redis-cli --tls --cluster create` and waits
// until every node sees the cluster ready. On error it stops what it
// started.
func StartRedisClusterTLS(ctx context.Context, dir string, nodes []RedisTLS) (*RedisCluster, error) {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(nodes))
	return startCluster(ctx, len(nodes), func(i int) (*RedisServer, error) {
		port, err := FreeRedisPort()
		if err != nil {
			return nil, err
		}
		return startRedis(ctx, dir, port, true, &nodes[i])
	}, []string{"--cluster-replicas", "0", "--tls", "--cacert", nodes[0].CAFile}, func(ctx context.Context, i int, s *RedisServer) error {
		opt, err := tlsOptions(s.Addr, nodes[i].CAFile)
		if err != nil {
			return err
		}
		cl := redis.NewClient(opt)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		info, err := cl.ClusterInfo(ctx).Result()
		if err == nil && (!strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want)) {
			err = errors.New(info)
		}
		return err
	})
}

// clusterPort is the i-th of ports, or a free one past their end.
func clusterPort(ports []int, i int) (int, error) {
	if i < len(ports) {
		return ports[i], nil
	}
	return FreeRedisPort()
}

// startCluster starts n nodes with start, joins them with `redis-cli
// --cluster create <addrs> <createArgs> --cluster-yes`, and polls ready
// for each node. On error it stops what it started.
func startCluster(ctx context.Context, n int, start func(i int) (*RedisServer, error), createArgs []string,
	ready func(ctx context.Context, i int, s *RedisServer) error) (_ *RedisCluster, err error) {
	cli, err := LookRedis("redis-cli")
	if err != nil {
		return nil, err
	}
	c := new(RedisCluster)
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for i := range n {
		s, err := start(i)
		if err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(append(args, createArgs...), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	for i, s := range c.Servers {
		if err := Poll(ctx, "Redis Cluster node "+s.Addr+" to be ready", 50*time.Millisecond, s.Process, func(ctx context.Context) error {
			return ready(ctx, i, s)
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// clusterReady returns nil when the node at addr sees the whole cluster
// ready: cluster_state:ok, six nodes known, and three replicas attached
// to their masters (the slots alone make the state ok before the
// replicas have joined); otherwise what it saw.
func clusterReady(ctx context.Context, addr string) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") {
		return errors.New(info)
	}
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	replicas := 0
	for line := range strings.SplitSeq(strings.TrimSpace(nodes), "\n") {
		// <id> <addr> <flags> <master id or -> ...
		f := strings.Fields(line)
		if len(f) > 3 && strings.Contains(f[2], "slave") && f[3] != "-" {
			replicas++
		}
	}
	if replicas != 3 {
		return errors.New(nodes)
	}
	return nil
}

// FreeRedisPort returns a port that is free, as is the port 10000 above
// it (a cluster node's bus port).
func FreeRedisPort() (int, error) {
	for range 100 {
		port, err := freePortIn(StablePortLow, StablePortHigh-10000)
		if err != nil {
			return 0, err
		}
		if PortFree(port+10000, "127.0.0.1") && Claim(port+10000) {
			return port, nil
		}
	}
	return 0, errors.New("no free port pair for a Redis Cluster node")
}
