package clicklimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// claimScript counts one click below ARGV[1] atomically: Redis runs a
// script alone, so the read and the increment of concurrent claims from
// every edge never interleave. It touches only KEYS[1], so it runs on
// Redis Cluster too. The key has no TTL: the count must last as long as
// the link (see NewRedis). A value that is not a number fails the script
// (the claim is an error, so the edge answers 503) rather than restart
// the count.
//
//	KEYS[1]  the link's count
//	ARGV[1]  max, > 0
//
// It returns 1 when it counted the click, 0 when max were counted.
var claimScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used == nil then
  return redis.error_reply('click count ' .. KEYS[1] .. ' is not a number')
end
if used >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[1])
return 1
`)

// redisCounter counts in Redis.
type redisCounter struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a Counter that keeps each limited link's count in
// Redis under prefix + "clicks:" + the link's ID: one round trip per
// claim (EVALSHA of one script, EVAL when the server lacks it).
//
// The keys carry no TTL, so the server must never evict them: run it with
// maxmemory-policy noeviction or one of the volatile-* policies (the L2
// cache's keys have TTLs, so those evict only them), and with AOF
// (appendonly yes) so that a restart does not lose counts. A lost count
// starts again from zero, and the link redirects up to max times more
// (docs/decisions/0005-exact-click-limits.md).
func NewRedis(client redis.UniversalClient, prefix string) Counter {
	return redisCounter{c: client, prefix: prefix + "clicks:"}
}

func (r redisCounter) key(linkID int64) string {
	return r.prefix + strconv.FormatInt(linkID, 10)
}

// Claim implements Counter.
func (r redisCounter) Claim(ctx context.Context, linkID, max int64) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	n, err := claimScript.Run(ctx, r.c, []string{r.key(linkID)}, max).Int64()
	if err != nil {
		return false, fmt.Errorf("clicklimit: claim a click of link %d in Redis: %w", linkID, err)
	}
	return n == 1, nil
}

// Counted implements Counter.
func (r redisCounter) Counted(ctx context.Context, linkID int64) (int64, error) {
	n, err := r.c.Get(ctx, r.key(linkID)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("clicklimit: counted clicks of link %d in Redis: %w", linkID, err)
	}
	return n, nil
}
