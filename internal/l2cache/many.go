package l2cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
)

// Found is one answer of GetMany: the link and whether the key held one.
type Found struct {
	Link linkstore.Link
	OK   bool
}

// GetMany reads the links of keys in one pipeline of GETs (not MGET: on a
// Redis Cluster the keys live in many slots, which one MGET refuses; the
// cluster client splits a pipeline by node, one round trip to each). It
// answers one Found per key, in order, as Get would: a missing key, a
// tombstone or a value that does not decode is not found (a corrupt value
// is left for Get to report on the redirect path). The error is that of
// the pipeline as a whole (Redis down, ctx done); a per-key error other
// than a miss makes that key not found.
//
// It is the edge's warm start (caddymodule/warm.go): a bulk read off the
// request path, so it may be large; callers bound it by batching.
func (c *Cache) GetMany(ctx context.Context, keys []linkstore.Key) ([]Found, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, c.Key(k.Domain, k.Code))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() != nil {
		return nil, fmt.Errorf("l2cache: get %d keys: %w", len(keys), err)
	}
	out := make([]Found, len(keys))
	var firstErr error
	failed := 0
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				failed++
				firstErr = cmp.Or(firstErr, err)
			}
			continue
		}
		d, err := decode(b)
		if err != nil || d.tombstone {
			continue
		}
		d.link.Code, d.link.Domain = keys[i].Code, keys[i].Domain
		out[i] = Found{Link: d.link, OK: true}
	}
	if failed == len(keys) { // Redis is down or refusing: say so
		return nil, fmt.Errorf("l2cache: get %d keys: %w", len(keys), firstErr)
	}
	return out, nil
}
