package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Refunder is a Limiter that can give back a request it allowed, for a
// request that was refused after all (invalid, or failed before it did
// anything): a budget of creates is then spent only by creates.
type Refunder interface {
	Limiter
	// Refund gives one request back to key: its TAT moves back one
	// emission interval, never before now, so a refund can refill the
	// bucket to full but no further. Refunding a key that was never
	// allowed anything changes nothing.
	Refund(ctx context.Context, key string) error
}

// Refund implements Refunder. It never fails; the context is unused.
func (l *Local) Refund(_ context.Context, key string) error {
	b, ok := l.cache.GetIfPresent(key)
	if !ok {
		return nil // unknown (or expired, so full): nothing to give back
	}
	now := l.clock.NowNano()
	for {
		tat := b.tat.Load()
		if tat <= now {
			return nil
		}
		if b.tat.CompareAndSwap(tat, max(tat-l.t, now)) {
			return nil
		}
	}
}

// refundScript moves one key's TAT back by one emission interval, not
// before now, atomically; the arguments are gcraScript's.
var refundScript = redis.NewScript(luaNow + `
local t = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat <= now then
  return 0
end
local newtat = tat - t
if newtat <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', string.format('%d', math.ceil((newtat - now) / 1000)))
return 1
`)

// Refund implements Refunder: one round trip, like Allow.
func (r *Redis) Refund(ctx context.Context, key string) error {
	now := ""
	if r.clock != nil {
		now = strconv.FormatInt(r.clock.NowNano()/int64(time.Microsecond), 10)
	}
	if err := refundScript.Run(ctx, r.client, []string{r.prefix + key}, r.tArg, r.winArg, now).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis refund: %w", err)
	}
	return nil
}

// Interface guards.
var (
	_ Refunder = (*Local)(nil)
	_ Refunder = (*Redis)(nil)
)
