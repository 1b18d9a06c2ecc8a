package testenv

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStartTimeout bounds starting one server or forming a cluster.
const redisStartTimeout = 30 * time.Second

// RedisServer is a redis-server process that a test started (StartRedis),
// for tests that stop Redis under a running edge. It has no persistence.
type RedisServer struct {
	// Addr is the server's host:port.
	Addr string

	cmd      *exec.Cmd
	stopOnce sync.Once
	done     chan struct{}
	log      string
}

// StartRedis starts a standalone redis-server on a free port in a
// temporary directory and waits until it answers; it is stopped when the
// test ends, if the test did not stop it first. It fails the test when
// redis-server is not installed.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	bin := lookRedis(tb, "redis-server")
	dir := tb.TempDir()
	s := startRedisServer(tb, bin, dir, freeRedisPort(tb), false)
	waitPing(tb, s)
	return s
}

// Stop kills the server and waits for it to exit; later calls do nothing.
func (s *RedisServer) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// RedisCluster is a Redis Cluster of three masters, each with one replica
// (six redis-server processes), that a test started (StartRedisCluster).
type RedisCluster struct {
	// Addrs are the host:port addresses of the six nodes.
	Addrs []string

	servers []*RedisServer
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

// StartRedisCluster starts six redis-server processes with cluster-enabled
// yes on free ports in a temporary directory, joins them with
// `redis-cli --cluster create … --cluster-replicas 1` (three masters with
// a replica each, the 16384 slots split among the masters), and waits until
// every node reports cluster_state:ok. The processes are stopped when the
// test ends. It fails the test loudly when redis-server or redis-cli is not
// installed.
func StartRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	server, cli := lookRedis(tb, "redis-server"), lookRedis(tb, "redis-cli")
	dir := tb.TempDir()
	c := new(RedisCluster)
	for range 6 {
		s := startRedisServer(tb, server, dir, freeRedisPort(tb), true)
		c.servers = append(c.servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	for _, s := range c.servers {
		waitPing(tb, s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}

	deadline := time.Now().Add(redisStartTimeout)
	for _, s := range c.servers {
		for {
			info, err := clusterReady(s.Addr)
			if err == nil && info == "" {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("testenv: Redis Cluster node %s not ready after %v: %q %v (log %s)", s.Addr, redisStartTimeout, info, err, s.log)
			}
			time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
		}
	}
	return c
}

// lookRedis finds a Redis binary or fails the test.
func lookRedis(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("testenv: %s is not installed (Debian: apt-get install redis-server, which brings redis-cli too): %v", name, err)
	}
	return p
}

// startRedisServer starts one redis-server on port with its files in dir
// and registers its stop with tb.Cleanup.
func startRedisServer(tb testing.TB, bin, dir string, port int, cluster bool) *RedisServer {
	tb.Helper()
	p := strconv.Itoa(port)
	s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", p), done: make(chan struct{}), log: filepath.Join(dir, "redis-"+p+".log")}
	args := []string{
		"--port", p, "--bind", "127.0.0.1", "--dir", dir, "--logfile", s.log,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
	}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+p+".conf",
			"--cluster-node-timeout", "2000")
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	s.cmd.SysProcAttr = new(syscall.SysProcAttr)
	dieWithParent(s.cmd.SysProcAttr) // no server left behind by a killed test binary
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("testenv: start redis-server on %s: %v", s.Addr, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	tb.Cleanup(s.Stop)
	return s
}

// waitPing waits until s answers PING, or fails the test.
func waitPing(tb testing.TB, s *RedisServer) {
	tb.Helper()
	cl := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer cl.Close()
	deadline := time.Now().Add(redisStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cl.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.done:
			tb.Fatalf("testenv: redis-server on %s exited (log %s)", s.Addr, s.log)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: redis-server on %s does not answer after %v: %v", s.Addr, redisStartTimeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// clusterReady returns "" when the node at addr sees the whole cluster
// ready: cluster_state:ok, six nodes known, and three replicas attached to
// their masters (the slots alone make the state ok before the replicas
// have joined); otherwise what it saw.
func clusterReady(addr string) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return "", err
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") {
		return info, nil
	}
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
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
		return nodes, nil
	}
	return "", nil
}

// freeRedisPort returns a port that is free, as is the port 10000 above
// it (a cluster node's bus port).
func freeRedisPort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testenv: find a free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	tb.Fatal(errors.New("testenv: no free port pair for a Redis Cluster node"))
	return 0
}
