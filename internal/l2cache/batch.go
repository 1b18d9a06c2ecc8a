package l2cache

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/batcher"
	"github.com/shortify/shortify/internal/linkstore"
)

// Why Get batches (issue 19): an L1 miss that Redis answers costs the
// edge a round trip, whose system calls and wake-ups cost more than the
// rest of the request. Gets that arrive while getFlights round trips are
// under way wait for the next one and go together in one pipeline of
// GETs (not MGET: a Redis Cluster refuses an MGET across slots; the
// cluster client splits a pipeline by node, one round trip to each). A
// Get that finds a flight free goes at once, alone: batching adds no
// wait when there is no queue.
//
// Each Get keeps its own outcome: its own key's miss, value or error,
// and its own context (the edge's redisWait budget): one that gives up
// returns at once without failing the others. The pipeline runs until
// the latest deadline of its Gets.
const (
	// getBatchMax bounds the GETs of one pipeline, so that one batch's
	// reply stays small and a slow one holds few requests.
	getBatchMax = 64
	// getFlights is how many pipelines may be under way at once: enough
	// to keep Redis and the edge busy at the same time, few enough that
	// concurrent misses queue and share.
	getFlights = 4
)

// got is one Get's answer.
type got struct {
	link linkstore.Link
	ok   bool
}

// getBatch runs the GETs of keys, one alone or a pipeline of them.
func (c *Cache) getBatch(ctx context.Context, keys []linkstore.Key, out []batcher.Result[got]) {
	if len(keys) == 1 {
		b, err := c.client.Get(ctx, c.Key(keys[0].Domain, keys[0].Code)).Bytes()
		out[0].Val, out[0].Err = answer(keys[0], b, err)
		return
	}
	cmds := make([]*redis.StringCmd, len(keys))
	// The pipeline's own error is that of its first failed command; each
	// command carries its own, which is what each Get answers.
	_, _ = c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, c.Key(k.Domain, k.Code))
		}
		return nil
	})
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		out[i].Val, out[i].Err = answer(keys[i], b, err)
	}
}
