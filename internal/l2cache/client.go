package l2cache

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client settings: a slow or absent Redis must cost a cache miss little,
// because the link store can answer instead. They suit the control plane
// too, whose write-through is best effort.
const (
	redisDialTimeout = 250 * time.Millisecond
	redisIOTimeout   = 100 * time.Millisecond
	redisPoolTimeout = 250 * time.Millisecond
)

// NewClient builds a Redis client for addr without connecting (go-redis
// dials on first use). addr is host:port; several comma-separated
// host:port seeds of a Redis Cluster; or a redis:// or rediss:// URL.
func NewClient(addr string) (redis.UniversalClient, error) {
	if IsURL(addr) {
		opt, err := ParseURL(addr)
		if err != nil {
			return nil, err
		}
		// Keep what the URL sets; shorten what it leaves at go-redis's
		// defaults, which are made for callers that can wait.
		opt.DialTimeout = cmpOr(opt.DialTimeout, redisDialTimeout)
		opt.ReadTimeout = cmpOr(opt.ReadTimeout, redisIOTimeout)
		opt.WriteTimeout = cmpOr(opt.WriteTimeout, redisIOTimeout)
		opt.PoolTimeout = cmpOr(opt.PoolTimeout, redisPoolTimeout)
		if opt.MaxRetries == 0 {
			opt.MaxRetries = -1
		}
		if opt.DialerRetries == 0 {
			opt.DialerRetries = 1
		}
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), nil
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
		DialTimeout:           redisDialTimeout,
		ReadTimeout:           redisIOTimeout,
		WriteTimeout:          redisIOTimeout,
		PoolTimeout:           redisPoolTimeout,
		MaxRetries:            -1, // the store is the retry
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	}), nil
}

// IsURL reports whether addr is a redis:// or rediss:// URL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://")
}

// ParseURL is redis.ParseURL with errors that never show the URL,
// which may hold a password (url.Parse's errors quote it whole).
func ParseURL(s string) (*redis.Options, error) {
	opt, err := redis.ParseURL(s)
	var uerr *url.Error
	switch {
	case errors.As(err, &uerr):
		return nil, errors.New("redis: the URL does not parse")
	case err != nil:
		return nil, err
	}
	return opt, nil
}

// cmpOr is cmp.Or for durations that may be zero.
func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}
