package l2cache

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// ping runs PING through a client NewClient built from addr.
func ping(t *testing.T, addr string) error {
	t.Helper()
	c, err := NewClient(addr)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// TestClientTLS runs the Redis hop over TLS against a real redis-server
// that speaks TLS only (issue 12, finding 5): a rediss:// URL with the
// test CA in tls_ca_file connects and caches; a CA that did not issue the
// server's certificate, the system's CAs, and plain text are refused.
func TestClientTLS(t *testing.T) {
	ca := testenv.NewCA(t, "redis test CA")
	srv := testenv.StartRedisTLS(t, ca)
	other := testenv.NewCA(t, "another CA")
	_, port, _ := strings.Cut(srv.Addr, ":")
	withCA := func(host, caFile string) string {
		return "rediss://" + host + ":" + port + "?" + url.Values{CAFileParam: {caFile}}.Encode()
	}

	t.Run("trusted", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			addr := withCA(host, ca.CertFile)
			if err := ping(t, addr); err != nil {
				t.Fatalf("PING over TLS to %s with the server's CA: %v", host, err)
			}
		}
		c, err := NewClient(withCA("127.0.0.1", ca.CertFile))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cache := New(c, testenv.UniquePrefix(t), time.Minute)
		l := linkstore.Link{Code: "tls1", ID: 1, URL: "https://example.com/", Status: 302, CreatedAt: time.Now().UTC().Truncate(time.Second)}
		if err := cache.Set(t.Context(), l); err != nil {
			t.Fatalf("Set over TLS: %v", err)
		}
		got, found, err := cache.Get(t.Context(), "", "tls1")
		if err != nil || !found || got.URL != l.URL {
			t.Fatalf("Get over TLS: %+v, found %v, %v", got, found, err)
		}
	})
	for name, addr := range map[string]string{
		"another CA":       withCA("127.0.0.1", other.CertFile),
		"the system's CAs": "rediss://127.0.0.1:" + port,
	} {
		t.Run(name, func(t *testing.T) {
			err := ping(t, addr)
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
				t.Fatalf("PING with %s: %v; want x509: certificate signed by unknown authority", name, err)
			}
		})
	}
	t.Run("plain text", func(t *testing.T) {
		if err := ping(t, srv.Addr); err == nil {
			t.Fatal("a plain-text PING to the TLS-only server succeeded")
		}
	})
}

// TestParseURLTLS checks tls_ca_file: only on rediss://, a readable PEM
// file, and for a cluster URL each node checked by its own host name.
func TestParseURLTLS(t *testing.T) {
	ca := testenv.NewCA(t, "redis test CA")
	for _, tc := range []struct{ url, want string }{
		{"redis://r1:6379?tls_ca_file=" + ca.CertFile, "not rediss://"},
		{"rediss://r1:6379?tls_ca_file=/nonexistent/ca.crt", "no such file"},
		{"rediss://r1:6379?tls_ca_file=" + ca.CertFile + "&bogus=1", "bogus"},
		{"rediss://:hunter2@r1:6379/%zz", "does not parse"},
	} {
		_, err := ParseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q): %v, want an error with %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL error %q shows the password", err)
		}
	}

	o, err := ParseURL("rediss://:pw@r1:6379?addr=r2:6379&addr=r3:6379&tls_ca_file=" + url.QueryEscape(ca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	c := o.Cluster
	if c == nil || !slices.Equal(c.Addrs, []string{"r1:6379", "r2:6379", "r3:6379"}) || c.Password != "pw" {
		t.Fatalf("cluster URL: %+v", o)
	}
	if c.TLSConfig == nil || c.TLSConfig.ServerName != "" || c.TLSConfig.RootCAs == nil {
		t.Errorf("cluster TLS config %+v: want the CA and no fixed server name (each node by its own)", c.TLSConfig)
	}
	if c.ReadTimeout != CacheTimeouts.IO || c.MaxRetries != -1 {
		t.Errorf("cluster URL: read timeout %v, retries %d; want the client's short defaults", c.ReadTimeout, c.MaxRetries)
	}
	o, err = ParseURL("rediss://r1:6379?tls_ca_file=" + url.QueryEscape(ca.CertFile))
	if err != nil || o.Node == nil || o.Node.TLSConfig.RootCAs == nil || o.Node.TLSConfig.ServerName != "r1" {
		t.Errorf("standalone URL: %+v, %v", o, err)
	}
}

// TestClientClusterTLS runs a Redis Cluster over TLS (clients and bus)
// whose first node's certificate names localhost and 127.0.0.1 and the
// others' only 127.0.0.1, as the nodes announce themselves. A cluster URL
// seeded with localhost reaches every node: each is checked against the
// address it is dialled by, not against the seed's name.
func TestClientClusterTLS(t *testing.T) {
	ca := testenv.NewCA(t, "redis cluster test CA")
	var nodes []procs.RedisTLS
	for i := range 3 {
		hosts := []string{"127.0.0.1"}
		if i == 0 {
			hosts = []string{"localhost", "127.0.0.1"}
		}
		cert, key := ca.Issue(t, hosts...)
		nodes = append(nodes, procs.RedisTLS{CertFile: cert, KeyFile: key, CAFile: ca.CertFile})
	}
	cl := testenv.StartRedisClusterTLS(t, nodes)
	_, port, _ := strings.Cut(cl.Addrs[0], ":")
	addr := "rediss://localhost:" + port + "?" + url.Values{CAFileParam: {ca.CertFile}}.Encode()
	for _, a := range cl.Addrs[1:] {
		addr += "&addr=" + a
	}
	c, err := NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Keys in every slot range, so that every master is written to.
	for i := range 30 {
		key := testenv.UniquePrefix(t) + strconv.Itoa(i)
		if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s through the TLS cluster: %v", key, err)
		}
	}
	// ForEachMaster calls fn on a goroutine per master: count atomically.
	var masters atomic.Int32
	if err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		return m.Ping(ctx).Err()
	}); err != nil || masters.Load() != 3 {
		t.Fatalf("PING each of %d masters over TLS: %v", masters.Load(), err)
	}
}
