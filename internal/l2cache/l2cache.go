// Package l2cache is the Redis L2 of the redirect path, shared by every
// edge and written through by the control plane.
//
// A key is the prefix followed by the short code for a link on the
// instance's own host, and by the domain, "/" and the code for a link on a
// custom domain (Key; a code never holds "/", so the forms cannot meet).
// A value is a compact,
// versioned binary encoding of the fields the redirect path needs (see
// codec.go), not JSON, because Redis memory for hundreds of millions of
// links is paid per byte.
//
// Three writes, for three writers:
//
//   - Set is the control plane's write-through on create and update: it
//     always replaces what is there, tombstones included.
//   - Fill is the edge's write after a miss that the store answered: it only
//     writes an absent key (SET NX), so it never overwrites a fresher value.
//   - Delete is the control plane's delete: it leaves a short-lived tombstone
//     rather than removing the key, because an edge that read the link from
//     a lagging read replica just before the delete would otherwise Fill the
//     deleted link back into Redis for a whole TTL. A tombstone reads as a
//     miss and makes Fill a no-op until it expires.
package l2cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/batcher"
	"github.com/shortify/shortify/internal/linkstore"
)

// DefaultPrefix is the key prefix of link entries unless configured. The
// edges and the control plane must use the same one: the control plane
// writes what the edges read.
const DefaultPrefix = "shortify:link:"

// TombstoneTTL is how long Delete's tombstone (and Set's, for a link that
// has already expired) keeps edges from filling the key again. It must
// exceed the worst read-replica lag plus the longest miss load of an edge.
const TombstoneTTL = time.Minute

// minTTL is the shortest expiry Redis takes (PX counts milliseconds); a link
// with less time left than this is treated as expired.
const minTTL = time.Millisecond

// Cache is the Redis L2. It is safe for concurrent use; it holds no
// connections of its own (the client does) and needs no closing.
type Cache struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
	now    func() time.Time // injectable for tests
	// gets coalesces concurrent Gets into pipelines (batch.go).
	gets *batcher.Batcher[linkstore.Key, got]
}

// New returns the L2 on client. Keys are Key's. ttl bounds how long
// a value lives in Redis; a value never outlives its link's ExpiresAt
// either. A ttl <= 0 leaves values without a TTL of their own (then only
// the link's expiry, if any, bounds them), which is only sensible for small
// data sets.
func New(client redis.UniversalClient, prefix string, ttl time.Duration) *Cache {
	c := &Cache{client: client, prefix: prefix, ttl: ttl, now: time.Now}
	c.gets = batcher.New(c.getBatch, getBatchMax, getFlights)
	return c
}

// Key returns the Redis key of the link with code on domain ("" for the
// instance's own host): prefix + code on the own host, unchanged since
// before custom domains so that edges of either release share the entries,
// and prefix + domain + "/" + code on a custom domain.
func (c *Cache) Key(domain, code string) string {
	if domain == "" {
		return c.prefix + code
	}
	return c.prefix + domain + "/" + code
}

// Get returns the link with code on domain. A missing key or a tombstone is a miss:
// (Link{}, false, nil). A value that does not decode is an error wrapping
// ErrCorrupt, and the caller falls through to the store. Such a value is
// left in place (Fill does not replace it; the next Set or its TTL does):
// during a rolling upgrade it may be a newer format that this reader does
// not know, which older edges must not clobber. The link has Code set but
// no CreatedAt, which the L2 does not keep.
//
// Gets that run at the same time share round trips: see batch.go.
func (c *Cache) Get(ctx context.Context, domain, code string) (linkstore.Link, bool, error) {
	g, err := c.gets.Do(ctx, linkstore.Key{Domain: domain, Code: code})
	if err != nil {
		return linkstore.Link{}, false, fmt.Errorf("l2cache: get %s: %w", code, err)
	}
	return g.link, g.ok, nil
}

// answer is Get's answer for key from the reply b of its GET, or err.
func answer(key linkstore.Key, b []byte, err error) (got, error) {
	if errors.Is(err, redis.Nil) {
		return got{}, nil
	}
	if err != nil {
		return got{}, err
	}
	d, err := decode(b)
	if err != nil {
		return got{}, err
	}
	if d.tombstone {
		return got{}, nil
	}
	d.link.Code, d.link.Domain = key.Code, key.Domain
	return got{link: d.link, ok: true}, nil
}

// Set writes l through to Redis, replacing any value or tombstone: the
// control plane's write on create and update. Its TTL is the cache's ttl,
// shortened to the time l has left. A link that has already expired is
// written as a tombstone instead, so that edges reading an older, unexpired
// version from a lagging replica cannot fill it back.
func (c *Cache) Set(ctx context.Context, l linkstore.Link) error {
	if err := checkCode(l.Code); err != nil {
		return err
	}
	ttl, live := c.ttlFor(l)
	if !live {
		return c.tombstone(ctx, l.Domain, l.Code)
	}
	v, err := encodeLink(nil, l)
	if err != nil {
		return err
	}
	if err := c.client.Set(ctx, c.Key(l.Domain, l.Code), v, ttl).Err(); err != nil {
		return fmt.Errorf("l2cache: set %s: %w", l.Code, err)
	}
	return nil
}

// Fill writes l only if its key holds nothing (no value, no tombstone): the
// edge's write after a miss answered by the store. It reports whether it
// wrote. An expired link is not written.
func (c *Cache) Fill(ctx context.Context, l linkstore.Link) (bool, error) {
	if err := checkCode(l.Code); err != nil {
		return false, err
	}
	ttl, live := c.ttlFor(l)
	if !live {
		return false, nil
	}
	v, err := encodeLink(nil, l)
	if err != nil {
		return false, err
	}
	ok, err := c.client.SetNX(ctx, c.Key(l.Domain, l.Code), v, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("l2cache: fill %s: %w", l.Code, err)
	}
	return ok, nil
}

// Delete removes the link with code on domain from the L2: the control plane's write
// on delete and takedown. It leaves a tombstone for TombstoneTTL (see the
// package documentation), which reads as a miss.
func (c *Cache) Delete(ctx context.Context, domain, code string) error {
	if err := checkCode(code); err != nil {
		return err
	}
	return c.tombstone(ctx, domain, code)
}

func (c *Cache) tombstone(ctx context.Context, domain, code string) error {
	if err := c.client.Set(ctx, c.Key(domain, code), []byte{tagTombstoneV1}, TombstoneTTL).Err(); err != nil {
		return fmt.Errorf("l2cache: delete %s: %w", code, err)
	}
	return nil
}

// ttlFor returns the TTL of l's value: the cache's ttl, but never past l's
// ExpiresAt. live is false when l has (all but) expired.
func (c *Cache) ttlFor(l linkstore.Link) (ttl time.Duration, live bool) {
	ttl = c.ttl
	if ttl < 0 {
		ttl = 0 // no TTL of our own
	}
	if l.ExpiresAt.IsZero() {
		return ttl, true
	}
	left := l.ExpiresAt.Sub(c.now())
	if left < minTTL {
		return 0, false
	}
	if ttl == 0 || left < ttl {
		ttl = left
	}
	return ttl, true
}

// checkCode refuses an empty code, whose key would be the bare prefix.
func checkCode(code string) error {
	if code == "" {
		return errors.New("l2cache: empty code")
	}
	return nil
}
