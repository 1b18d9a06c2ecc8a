package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// redisClient returns a client of the test Redis server.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(tb)})
	tb.Cleanup(func() { c.Close() })
	return c
}

// newTestRedis builds a Redis limiter with keys of the test's own. Keys
// need no clean-up: each expires when its bucket is full again.
func newTestRedis(t *testing.T, l Limit, clock Clock) Limiter {
	t.Helper()
	lim, err := NewRedis(redisClient(t), l, RedisOptions{Prefix: testenv.UniquePrefix(t), Clock: clock})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	return lim
}

// Without a clock, the script reads the server's: a burst is still exact.
func TestRedisServerClock(t *testing.T) {
	t.Parallel()
	lim := newTestRedis(t, Limit{Rate: 1, Burst: 3}, nil)
	for i := range 3 {
		if d := allow(t, lim, "k"); !d.Allowed || d.Remaining != 2-i || d.Reset <= 0 || d.Reset > time.Second {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := allow(t, lim, "k")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("over the burst: %+v", d)
	}
}

// The key is the prefix and the caller's key, and expires when its bucket
// would be full again; a refusal leaves it as it was.
func TestRedisKeyAndTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redisClient(t)
	prefix := testenv.UniquePrefix(t)
	clock := newFakeClock()
	lim, err := NewRedis(c, Limit{Rate: 10, Burst: 5}, RedisOptions{Prefix: prefix, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		allow(t, lim, "203.0.113.7")
	}
	key := prefix + "203.0.113.7"
	val, err := c.Get(ctx, key).Int64()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if want := testEpoch.Add(300 * time.Millisecond).UnixMicro(); val != want {
		t.Fatalf("stored TAT = %d, want %d", val, want)
	}
	// Full again 300 ms after the (fake) now: the TTL says so in real time.
	ttl := c.PTTL(ctx, key).Val()
	if ttl <= 200*time.Millisecond || ttl > 300*time.Millisecond {
		t.Fatalf("PTTL = %v, want just under 300ms", ttl)
	}
	allow(t, lim, "203.0.113.7")
	allow(t, lim, "203.0.113.7")
	if d := allow(t, lim, "203.0.113.7"); d.Allowed {
		t.Fatalf("over the burst: %+v", d)
	}
	if val2, _ := c.Get(ctx, key).Int64(); val2 != testEpoch.Add(500*time.Millisecond).UnixMicro() {
		t.Fatalf("a refusal changed TAT to %d", val2)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 400*time.Millisecond || ttl > 500*time.Millisecond {
		t.Fatalf("PTTL after a refusal = %v, want just under 500ms", ttl)
	}
	// A value the script did not write is read as none, and replaced.
	if err := c.Set(ctx, prefix+"junk", "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, lim, "junk"); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("over junk: %+v", d)
	}
}

// Redis errors reach the caller, with the zero Decision.
func TestRedisErrors(t *testing.T) {
	t.Parallel()
	l := Limit{Rate: 10, Burst: 5}

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	lim, err := NewRedis(down, l, RedisOptions{Prefix: "x:"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := lim.Allow(context.Background(), "k")
	if err == nil || d != (Decision{}) {
		t.Fatalf("Redis unreachable: Allow = %+v, %v; want an error", d, err)
	}
	t.Logf("unreachable: %v", err)

	c := redisClient(t)
	prefix := testenv.UniquePrefix(t)
	lim, err = NewRedis(c, l, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lim.Allow(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
	// A key of another type: the script fails, and says so.
	if err := c.HSet(context.Background(), prefix+"hash", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Del(context.Background(), prefix+"hash") })
	if _, err := lim.Allow(context.Background(), "hash"); err == nil {
		t.Fatal("Allow on a hash key succeeded")
	}
}

func TestNewRedisErrors(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, tc := range []struct {
		name   string
		client redis.Scripter
		l      Limit
		opts   RedisOptions
	}{
		{"bad limit", c, Limit{Rate: -1, Burst: 1}, RedisOptions{Prefix: "p:"}},
		{"no client", nil, Limit{Rate: 1, Burst: 1}, RedisOptions{Prefix: "p:"}},
		{"no prefix", c, Limit{Rate: 1, Burst: 1}, RedisOptions{}},
	} {
		if _, err := NewRedis(tc.client, tc.l, tc.opts); err == nil {
			t.Errorf("%s: NewRedis succeeded", tc.name)
		}
	}
}
