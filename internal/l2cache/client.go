package l2cache

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/tracing"
)

// Timeouts are a client's waits for a connection, a command's I/O and a
// free pooled connection. A context's deadline bounds each command too.
type Timeouts struct {
	Dial, IO, Pool time.Duration
}

// CacheTimeouts are NewClient's: a slow or absent Redis must cost a cache
// miss little, because the link store can answer instead. They suit the
// control plane too, whose write-through is best effort.
var CacheTimeouts = Timeouts{Dial: 250 * time.Millisecond, IO: 100 * time.Millisecond, Pool: 250 * time.Millisecond}

// CounterTimeouts are for callers that have no fallback and would rather
// wait up to their context's deadline: the click-limit counter, whose
// timed-out claim may have counted a click that is then not served.
var CounterTimeouts = Timeouts{Dial: 500 * time.Millisecond, IO: 2 * time.Second, Pool: 2 * time.Second}

// CAFileParam is the query parameter of a rediss:// URL that names a PEM
// file of the certificate authorities to trust for the server's
// certificate, instead of the system's: rediss://host:6379?tls_ca_file=/etc/redis-ca/ca.crt.
// It is Shortify's, not go-redis's, and is taken out before go-redis
// parses the URL.
const CAFileParam = "tls_ca_file"

// NewClient builds a Redis client for addr without connecting (go-redis
// dials on first use). addr is one of
//
//   - host:port, a standalone Redis, in plain text;
//   - several comma-separated host:port seeds of a Redis Cluster, in
//     plain text;
//   - a redis:// or rediss:// (TLS) URL of a standalone Redis, or of a
//     Redis Cluster when it names more seeds with addr= parameters
//     (go-redis's cluster URL): rediss://:pw@r1:6379?addr=r2:6379&addr=r3:6379.
//     A rediss:// URL verifies each server's certificate against its own
//     host name, with the system's CAs or those of tls_ca_file.
//
// The edge, the control plane and the rate limiter all build their Redis
// client here, so they accept the same addresses.
func NewClient(addr string) (redis.UniversalClient, error) {
	return NewClientWith(addr, CacheTimeouts)
}

// NewClientWith is NewClient with other timeouts (those a URL sets win).
// Every client traces its commands under its callers' spans
// (internal/tracing; nothing while tracing is off).
func NewClientWith(addr string, t Timeouts) (redis.UniversalClient, error) {
	c, err := newClient(addr, t)
	if err != nil {
		return nil, err
	}
	if err := tracing.InstrumentRedis(c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(addr string, t Timeouts) (redis.UniversalClient, error) {
	if IsURL(addr) {
		o, err := parseURL(addr, t)
		if err != nil {
			return nil, err
		}
		if o.Cluster != nil {
			return redis.NewClusterClient(o.Cluster), nil
		}
		return redis.NewClient(o.Node), nil
	}
	var addrs []string
	for a := range strings.SplitSeq(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("redis: no address in %q", addr)
	}
	// Two or more addresses are the seeds of a Redis Cluster.
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs,
		DialTimeout:           t.Dial,
		ReadTimeout:           t.IO,
		WriteTimeout:          t.IO,
		PoolTimeout:           t.Pool,
		MaxRetries:            -1, // the store is the retry
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	}), nil
}

// IsURL reports whether addr is a redis:// or rediss:// URL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://")
}

// URLOptions are the client options a URL gives: Node for a standalone
// Redis, or Cluster for a Redis Cluster (the URL has addr= seeds).
type URLOptions struct {
	Node    *redis.Options
	Cluster *redis.ClusterOptions
}

// ParseURL parses a redis:// or rediss:// URL as NewClient does (the
// tls_ca_file named is read here), with errors that never show the URL,
// which may hold a password (url.Parse's errors quote it whole).
func ParseURL(s string) (*URLOptions, error) { return parseURL(s, CacheTimeouts) }

func parseURL(s string, t Timeouts) (*URLOptions, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("redis: the URL does not parse")
	}
	q := u.Query()
	caFile := q.Get(CAFileParam)
	q.Del(CAFileParam)
	u.RawQuery = q.Encode()
	var roots *x509.CertPool
	if caFile != "" {
		if u.Scheme != "rediss" {
			return nil, fmt.Errorf("redis: %s is set but the URL is %s://, not rediss:// (TLS)", CAFileParam, u.Scheme)
		}
		if roots, err = loadCAs(caFile); err != nil {
			return nil, err
		}
	}
	if q.Has("addr") {
		opt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, redactErr(err)
		}
		if opt.TLSConfig != nil {
			// Each node's certificate is checked against the host name
			// it is dialled by (crypto/tls takes it from the address when
			// ServerName is empty), not against the first seed's.
			opt.TLSConfig.ServerName = ""
			opt.TLSConfig.RootCAs = roots
			opt.TLSConfig.MinVersion = tls.VersionTLS12
		}
		shorten(t, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MaxRetries, &opt.DialerRetries)
		opt.ContextTimeoutEnabled = true
		return &URLOptions{Cluster: opt}, nil
	}
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, redactErr(err)
	}
	if opt.TLSConfig != nil {
		opt.TLSConfig.RootCAs = roots
		opt.TLSConfig.MinVersion = tls.VersionTLS12
	}
	shorten(t, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MaxRetries, &opt.DialerRetries)
	opt.ContextTimeoutEnabled = true
	return &URLOptions{Node: opt}, nil
}

// loadCAs reads a PEM file of CA certificates.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("redis: %s: %w", CAFileParam, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("redis: %s %s holds no PEM certificate", CAFileParam, path)
	}
	return pool, nil
}

// redactErr keeps go-redis's own errors (they name an option, never the
// URL) and replaces url.Parse's, which quote the URL with its password.
func redactErr(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return errors.New("redis: the URL does not parse")
	}
	return err
}

// shorten keeps what a URL sets and shortens what it leaves at go-redis's
// defaults, which are made for callers that can wait; the store is the
// retry, so commands are not retried.
func shorten(t Timeouts, dial, read, write, pool *time.Duration, retries, dialerRetries *int) {
	*dial = cmpOr(*dial, t.Dial)
	*read = cmpOr(*read, t.IO)
	*write = cmpOr(*write, t.IO)
	*pool = cmpOr(*pool, t.Pool)
	if *retries == 0 {
		*retries = -1
	}
	if *dialerRetries == 0 {
		*dialerRetries = 1
	}
}

// cmpOr is cmp.Or for durations that may be zero.
func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}
