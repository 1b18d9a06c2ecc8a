package l2cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// setup returns a Cache on the test Redis with a prefix of its own, whose
// keys are removed when the test ends, and the raw client to inspect them.
func setup(t testing.TB, ttl time.Duration) (*Cache, *redis.Client) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	prefix := testenv.UniquePrefix(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	return New(client, prefix, ttl), client
}

func TestGetMiss(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, time.Hour)
	_, ok, err := c.Get(t.Context(), "", "nope")
	if ok || err != nil {
		t.Fatalf("Get of an absent key = %v, %v; want a miss", ok, err)
	}
}

func TestSetGet(t *testing.T) {
	t.Parallel()
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	want := linkstore.Link{ID: 77, Code: "abc123", URL: "https://example.com/x", Status: 308, Disabled: true}
	if err := c.Set(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(ctx, "", "abc123")
	if err != nil || !ok || !sameLink(got, want) {
		t.Fatalf("Get = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	// The key is the prefix and the code, with the cache's TTL.
	ttl, err := client.PTTL(ctx, c.Key("", "abc123")).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL = %v, %v; want about 1h", ttl, err)
	}
}

func TestTTLNeverOutlivesLink(t *testing.T) {
	t.Parallel()
	c, client := setup(t, 24*time.Hour)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := t.Context()

	l := linkstore.Link{ID: 1, Code: "soon", URL: "https://example.com/", ExpiresAt: now.Add(90 * time.Second)}
	if err := c.Set(ctx, l); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, c.Key("", "soon")).Result()
	if err != nil || ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("PTTL = %v, %v; want at most the 90s the link has left", ttl, err)
	}
	got, ok, err := c.Get(ctx, "", "soon")
	if err != nil || !ok || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("Get = %+v, %v, %v", got, ok, err)
	}

	// A link that expires after the cache's TTL keeps the cache's TTL.
	l = linkstore.Link{ID: 2, Code: "later", URL: "https://example.com/", ExpiresAt: now.Add(48 * time.Hour)}
	if err := c.Set(ctx, l); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := client.PTTL(ctx, c.Key("", "later")).Result(); ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("PTTL = %v; want about 24h", ttl)
	}
}

func TestSetExpiredWritesTombstone(t *testing.T) {
	t.Parallel()
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	live := linkstore.Link{ID: 1, Code: "exp", URL: "https://example.com/"}
	if err := c.Set(ctx, live); err != nil {
		t.Fatal(err)
	}
	expired := live
	expired.ExpiresAt = time.Now().Add(-time.Second)
	if err := c.Set(ctx, expired); err != nil {
		t.Fatal(err)
	}
	// An edge that read the older, live version cannot fill it back.
	checkTombstone(t, c, client, live, "Set of an expired link")
}

// checkTombstone checks that l's code, after what, is a tombstone: a
// miss that a Fill of l (an edge's older read) does not overwrite, and that
// expires within TombstoneTTL.
func checkTombstone(t *testing.T, c *Cache, client *redis.Client, l linkstore.Link, after string) {
	t.Helper()
	ctx := t.Context()
	if _, ok, err := c.Get(ctx, "", l.Code); ok || err != nil {
		t.Fatalf("Get after %s = %v, %v; want a miss", after, ok, err)
	}
	if wrote, err := c.Fill(ctx, l); wrote || err != nil {
		t.Fatalf("Fill after %s = %v, %v; want no write", after, wrote, err)
	}
	if ttl, _ := client.PTTL(ctx, c.Key("", l.Code)).Result(); ttl <= 0 || ttl > TombstoneTTL {
		t.Fatalf("tombstone PTTL = %v; want (0, %v]", ttl, TombstoneTTL)
	}
}

func TestDeleteLeavesTombstoneThatBlocksFill(t *testing.T) {
	t.Parallel()
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	l := linkstore.Link{ID: 9, Code: "gone", URL: "https://example.com/"}
	if err := c.Set(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "", "gone"); err != nil {
		t.Fatal(err)
	}
	// The race the tombstone is for: an edge that read the link from a
	// lagging replica fills it after the delete.
	checkTombstone(t, c, client, l, "Delete")
	// A create of the same code (a reused alias) replaces the tombstone.
	l.ID, l.URL = 10, "https://example.org/"
	if err := c.Set(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.Get(ctx, "", "gone"); !ok || err != nil || got.URL != l.URL {
		t.Fatalf("Get after re-create = %+v, %v, %v", got, ok, err)
	}
}

func TestFillNeverOverwrites(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, time.Hour)
	ctx := t.Context()
	fresh := linkstore.Link{ID: 1, Code: "f", URL: "https://new.example/"}
	if wrote, err := c.Fill(ctx, fresh); !wrote || err != nil {
		t.Fatalf("Fill of an absent key = %v, %v; want a write", wrote, err)
	}
	stale := linkstore.Link{ID: 1, Code: "f", URL: "https://old.example/"}
	if wrote, err := c.Fill(ctx, stale); wrote || err != nil {
		t.Fatalf("Fill of a present key = %v, %v; want no write", wrote, err)
	}
	if got, _, _ := c.Get(ctx, "", "f"); got.URL != fresh.URL {
		t.Fatalf("URL = %q, want %q", got.URL, fresh.URL)
	}
	// An expired link is never filled.
	exp := linkstore.Link{ID: 2, Code: "e", URL: "https://x.example/", ExpiresAt: time.Now().Add(-time.Minute)}
	if wrote, err := c.Fill(ctx, exp); wrote || err != nil {
		t.Fatalf("Fill of an expired link = %v, %v; want no write", wrote, err)
	}
}

func TestGetCorrupt(t *testing.T) {
	t.Parallel()
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	if err := client.Set(ctx, c.Key("", "junk"), `{"url":"https://example.com"}`, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, "", "junk"); ok || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of garbage = %v, %v; want ErrCorrupt", ok, err)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every command fails at once.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	c := New(client, "p:", time.Hour)
	ctx := t.Context()
	if _, _, err := c.Get(ctx, "", "x"); err == nil {
		t.Fatal("Get with Redis down: no error")
	}
	if err := c.Set(ctx, linkstore.Link{Code: "x", URL: "https://e.x/"}); err == nil {
		t.Fatal("Set with Redis down: no error")
	}
}

func TestEmptyCodeRefused(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, time.Hour)
	ctx := t.Context()
	if err := c.Set(ctx, linkstore.Link{URL: "https://e.x/"}); err == nil {
		t.Error("Set with no code: no error")
	}
	if _, err := c.Fill(ctx, linkstore.Link{URL: "https://e.x/"}); err == nil {
		t.Error("Fill with no code: no error")
	}
	if err := c.Delete(ctx, "", ""); err == nil {
		t.Error("Delete with no code: no error")
	}
}
