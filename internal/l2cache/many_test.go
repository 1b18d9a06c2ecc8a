package l2cache

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
)

// TestGetMany reads a found link, one on a custom domain, a tombstone, a
// corrupt value and an absent key in one call: only the two links are
// found, in the order asked.
func TestGetMany(t *testing.T) {
	t.Parallel()
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	own := linkstore.Link{ID: 1, Code: "own1", URL: "https://example.com/own", Status: 302}
	custom := linkstore.Link{ID: 2, Code: "cus1", Domain: "go.acme.example", URL: "https://example.com/custom", Status: 301}
	for _, l := range []linkstore.Link{own, custom} {
		if err := c.Set(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, "", "gone1"); err != nil {
		t.Fatal(err)
	}
	if err := client.Set(ctx, c.Key("", "bad1"), []byte{0xff, 1, 2}, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	keys := []linkstore.Key{{Code: "none1"}, own.Key(), {Code: "gone1"}, custom.Key(), {Code: "bad1"}}
	got, err := c.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("%d answers for %d keys", len(got), len(keys))
	}
	for i, want := range []struct {
		ok   bool
		link linkstore.Link
	}{{false, linkstore.Link{}}, {true, own}, {false, linkstore.Link{}}, {true, custom}, {false, linkstore.Link{}}} {
		if got[i].OK != want.ok || (want.ok && !sameLink(got[i].Link, want.link)) {
			t.Errorf("key %v: %+v, want found %v %+v", keys[i], got[i], want.ok, want.link)
		}
	}
	if got, err := c.GetMany(ctx, nil); got != nil || err != nil {
		t.Errorf("no keys: %v, %v", got, err)
	}
}

// TestGetManyRedisDown: every key failing is an error, not a list of
// misses, so that the caller can tell Redis down from Redis empty.
func TestGetManyRedisDown(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	c := New(client, "p:", time.Hour)
	if _, err := c.GetMany(context.Background(), []linkstore.Key{{Code: "a"}, {Code: "b"}}); err == nil {
		t.Fatal("GetMany with Redis down: no error")
	}
}
