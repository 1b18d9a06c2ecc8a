package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// redisStartTimeout bounds starting one server or forming a cluster.
const redisStartTimeout = 30 * time.Second

// RedisServer is a redis-server process that a test started (StartRedis),
// for tests that stop Redis under a running edge. It has no persistence.
type RedisServer struct {
	// Addr is the server's host:port.
	Addr string

	srv *procs.RedisServer
}

// StartRedis starts a standalone redis-server on a free port in a
// temporary directory and waits until it answers; it is stopped when the
// test ends, if the test did not stop it first. It fails the test when
// redis-server is not installed.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	return startRedis(tb, func(ctx context.Context, dir string, port int) (*procs.RedisServer, error) {
		return procs.StartRedis(ctx, dir, port, false)
	})
}

// startRedis runs start on a free port with a deadline and a temporary
// directory, and stops the server when the test ends.
func startRedis(tb testing.TB, start func(ctx context.Context, dir string, port int) (*procs.RedisServer, error)) *RedisServer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	port, err := procs.FreeRedisPort()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	srv, err := start(ctx, tb.TempDir(), port)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(srv.Stop)
	return &RedisServer{Addr: srv.Addr, srv: srv}
}

// Stop kills the server and waits for it to exit; later calls do nothing.
func (s *RedisServer) Stop() { s.srv.Stop() }

// StartRedisTLS is StartRedis for a redis-server that speaks TLS only,
// with a certificate from ca for 127.0.0.1 and localhost.
func StartRedisTLS(tb testing.TB, ca *CA) *RedisServer {
	tb.Helper()
	cert, key := ca.Issue(tb, "127.0.0.1", "localhost")
	return startRedis(tb, func(ctx context.Context, dir string, port int) (*procs.RedisServer, error) {
		return procs.StartRedisTLS(ctx, dir, port, procs.RedisTLS{CertFile: cert, KeyFile: key, CAFile: ca.CertFile})
	})
}

// RedisCluster is a Redis Cluster of three masters, each with one replica
// (six redis-server processes), that a test started (StartRedisCluster).
type RedisCluster struct {
	// Addrs are the host:port addresses of the six nodes.
	Addrs []string
}

// Seeds returns the nodes' addresses comma-separated, the form the edge's
// and the control plane's redis setting takes for a cluster.
func (c *RedisCluster) Seeds() string { return strings.Join(c.Addrs, ",") }

// Client returns a cluster client for the test's own checks, closed when
// the test ends.
func (c *RedisCluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { cl.Close() })
	return cl
}

// StartRedisCluster starts a Redis Cluster (procs.StartRedisCluster: six
// redis-server processes on free ports in a temporary directory, three
// masters with a replica each) and waits until every node reports the
// whole cluster ready. The processes are stopped when the test ends. It
// fails the test loudly when redis-server or redis-cli is not installed.
func StartRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	return startCluster(tb, func(ctx context.Context, dir string) (*procs.RedisCluster, error) {
		return procs.StartRedisCluster(ctx, dir, nil)
	})
}

// StartRedisClusterTLS starts a Redis Cluster of masters that speak TLS
// only (procs.StartRedisClusterTLS), one per certificate in nodes, and
// stops it when the test ends.
func StartRedisClusterTLS(tb testing.TB, nodes []procs.RedisTLS) *RedisCluster {
	tb.Helper()
	return startCluster(tb, func(ctx context.Context, dir string) (*procs.RedisCluster, error) {
		return procs.StartRedisClusterTLS(ctx, dir, nodes)
	})
}

// startCluster runs start with a deadline and a temporary directory, and
// stops the cluster when the test ends.
func startCluster(tb testing.TB, start func(ctx context.Context, dir string) (*procs.RedisCluster, error)) *RedisCluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	c, err := start(ctx, tb.TempDir())
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(c.Stop)
	return &RedisCluster{Addrs: c.Addrs}
}
