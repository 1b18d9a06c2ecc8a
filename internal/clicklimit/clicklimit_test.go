package clicklimit

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends returns, for each kind of counter, a function that opens two
// independent counters on one shared state: two edges.
func backends() map[string]func(t *testing.T) (Counter, Counter) {
	return map[string]func(t *testing.T) (Counter, Counter){
		"postgres": func(t *testing.T) (Counter, Counter) {
			dsn := testenv.Schema(t)
			return NewStore(teststore.Postgres(t, dsn)), NewStore(teststore.Postgres(t, dsn))
		},
		"sqlite": func(t *testing.T) (Counter, Counter) {
			path := filepath.Join(t.TempDir(), "links.db")
			return NewStore(teststore.SQLiteFile(t, path)), NewStore(teststore.SQLiteFile(t, path))
		},
		"redis": func(t *testing.T) (Counter, Counter) {
			prefix := testenv.UniquePrefix(t)
			return NewRedis(redisClient(t), prefix), NewRedis(redisClient(t), prefix)
		},
	}
}

func redisClient(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClaimCounts: claims count up to max and no further, per link.
func TestClaimCounts(t *testing.T) {
	tests := []struct {
		name  string
		maxes []int64
		want  []bool
		count int64
	}{
		{"max 0 claims nothing", []int64{0}, []bool{false}, 0},
		{"negative max claims nothing", []int64{-3}, []bool{false}, 0},
		{"max 2", []int64{2, 2, 2}, []bool{true, true, false}, 2},
		{"max lowered below the count", []int64{3, 3, 1}, []bool{true, true, false}, 2},
		{"max raised", []int64{1, 1, 2}, []bool{true, false, true}, 2},
	}
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					id := rand.Int64()
					for i, max := range tt.maxes {
						c := a
						if i%2 == 1 {
							c = b
						}
						ok, err := c.Claim(t.Context(), id, max)
						if err != nil {
							t.Fatalf("claim %d: %v", i, err)
						}
						if ok != tt.want[i] {
							t.Errorf("claim %d (max %d): %t, want %t", i, max, ok, tt.want[i])
						}
					}
					for _, c := range []Counter{a, b} {
						if n, err := c.Counted(t.Context(), id); err != nil || n != tt.count {
							t.Errorf("Counted: %d, %v; want %d", n, err, tt.count)
						}
					}
				})
			}
		})
	}
}

// TestClaimExact: 400 concurrent claims through two independent counters
// on one state, max 100: exactly 100 succeed, and both count 100.
func TestClaimExact(t *testing.T) {
	const max, claims = 100, 400
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			id := rand.Int64()
			type result struct {
				ok  bool
				err error
			}
			results := storetest.AllAtOnce(claims, func(i int) result {
				c := a
				if i%2 == 1 {
					c = b
				}
				ok, err := c.Claim(t.Context(), id, max)
				return result{ok, err}
			})
			granted := 0
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("claim %d: %v", i, r.err)
				}
				if r.ok {
					granted++
				}
			}
			if granted != max {
				t.Errorf("%d claims granted, want exactly %d", granted, max)
			}
			for _, c := range []Counter{a, b} {
				if n, err := c.Counted(t.Context(), id); err != nil || n != max {
					t.Errorf("Counted: %d, %v; want %d", n, err, max)
				}
			}
		})
	}
}

// TestRedisDamagedCount: a count that is not a number is an error (the
// edge answers 503), not a count restarted from zero.
func TestRedisDamagedCount(t *testing.T) {
	c := redisClient(t)
	prefix := testenv.UniquePrefix(t)
	counter := NewRedis(c, prefix)
	if err := c.Set(t.Context(), prefix+"clicks:7", "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := counter.Claim(t.Context(), 7, 10); err == nil || ok {
		t.Fatalf("Claim on a damaged count: %t, %v; want an error", ok, err)
	}
	if _, err := counter.Counted(t.Context(), 7); err == nil {
		t.Fatal("Counted on a damaged count: no error")
	}
}

// TestRedisKeyHasNoTTL: the count must not expire.
func TestRedisKeyHasNoTTL(t *testing.T) {
	c := redisClient(t)
	prefix := testenv.UniquePrefix(t)
	if ok, err := NewRedis(c, prefix).Claim(t.Context(), 42, 1); err != nil || !ok {
		t.Fatalf("Claim: %t, %v", ok, err)
	}
	ttl, err := c.TTL(t.Context(), prefix+"clicks:42").Result()
	if err != nil || ttl != -1 {
		t.Fatalf("TTL of the count: %v, %v; want -1 (none)", ttl, err)
	}
}

// TestRedisDown: a claim that cannot reach Redis is an error.
func TestRedisDown(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	counter := NewRedis(c, "x:")
	if ok, err := counter.Claim(t.Context(), 1, 5); err != nil || !ok {
		t.Fatalf("Claim: %t, %v", ok, err)
	}
	srv.Stop()
	if ok, err := counter.Claim(t.Context(), 1, 5); err == nil || ok {
		t.Fatalf("Claim with Redis down: %t, %v; want an error", ok, err)
	}
}
