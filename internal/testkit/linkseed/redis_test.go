package linkseed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// testRedis is a client of the test Redis and a prefix of the test's own,
// whose keys are removed at the end.
func testRedis(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	prefix := testenv.UniquePrefix(t)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

func source(i int) (linkstore.Link, error) { return link(i, i%5 == 0), nil }

// The L2 holds every link of the seed as the product's reader decodes it,
// options included.
func TestFillL2ReadsBack(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	l2 := l2cache.New(rdb, prefix, time.Hour)
	const n = 500
	if _, err := FillL2(ctx, l2, n, source, 8); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		want, _ := source(i)
		got, ok, err := l2.Get(ctx, want.Domain, want.Code)
		if err != nil || !ok {
			t.Fatalf("link %d (%s): found %v, %v", i, want.Code, ok, err)
		}
		if got.URL != want.URL || got.ID != want.ID || got.WorkspaceID != want.WorkspaceID || len(got.Smart.Targets) != len(want.Smart.Targets) {
			t.Fatalf("link %d: got %+v, want %+v", i, got, want)
		}
	}
	if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err != nil || len(keys) != n {
		t.Fatalf("%d keys under the prefix (%v), want %d", len(keys), err, n)
	}
}

// A source's error stops the fill and is returned.
func TestFillL2SourceError(t *testing.T) {
	rdb, prefix := testRedis(t)
	bad := errors.New("no such link")
	_, err := FillL2(context.Background(), l2cache.New(rdb, prefix, time.Hour), 100, func(i int) (linkstore.Link, error) {
		if i == 42 {
			return linkstore.Link{}, bad
		}
		return source(i)
	}, 4)
	if !errors.Is(err, bad) {
		t.Fatalf("error %v, want the source's", err)
	}
}

// The hot list ranks link 0 first and names custom-domain links
// domain/code, in the minute of its writing, expiring.
func TestWriteHotList(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	now := time.Now()
	const n = 25_000 // three ZADDs
	if _, err := WriteHotList(ctx, rdb, prefix, time.Minute, n, source, now); err != nil {
		t.Fatal(err)
	}
	key := HotListKey(prefix, now)
	got, err := rdb.ZRevRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil || len(got) != n {
		t.Fatalf("%d members (%v), want %d", len(got), err, n)
	}
	for _, i := range []int{0, 1, 3, 10_000, n - 1} {
		l, _ := source(i)
		want := l.Code
		if l.Domain != "" {
			want = l.Domain + "/" + l.Code
		}
		if got[i].Member != want || got[i].Score != float64(n-i) {
			t.Errorf("rank %d: %v, want %s with score %d", i, got[i], want, n-i)
		}
	}
	if ttl, err := rdb.TTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL %v (%v), want up to a minute", ttl, err)
	}
	if HotListKey(prefix, now.Add(time.Minute)) == key {
		t.Error("the next minute has the same key")
	}
}
