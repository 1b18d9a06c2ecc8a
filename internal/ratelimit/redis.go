package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// luaNow starts the limiter's scripts: it sets now, in µs since the
// epoch, from ARGV[3] or, when that is empty, from the server's clock.
const luaNow = `
local now = tonumber(ARGV[3])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end`

// gcraScript checks and updates one key's TAT atomically. It touches only
// KEYS[1], so it runs on Redis Cluster (the key decides the node). Times
// are integers in microseconds, exact in Lua's doubles (2^53 µs is 285
// years past the epoch).
//
//	KEYS[1]  the key's TAT, µs since the epoch
//	ARGV[1]  T, the emission interval, µs
//	ARGV[2]  Burst*T, µs
//	ARGV[3]  now, µs since the epoch; empty for the server's clock
//
// It returns {allowed (1 or 0), TAT - now in µs}, TAT being the new one if
// allowed and the kept one (or now, if older) if not. A refused request
// writes nothing. The key expires when TAT is reached, when its bucket is
// full again and it may as well not exist; so idle keys cost nothing, and
// a value left by an older script or another program is at worst read as
// no value.
//
// TIME in a script that writes needs effects replication: the default
// since Redis 5, the only mode since Redis 7.
var gcraScript = redis.NewScript(luaNow + `
local t = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local nexttat = tat + t
if nexttat - now > window then
  return {0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', nexttat), 'PX', string.format('%d', math.ceil((nexttat - now) / 1000)))
return {1, nexttat - now}
`)

// RedisOptions configures a Redis limiter.
type RedisOptions struct {
	// Prefix starts every Redis key the limiter writes ("shortify:rl:" +
	// the route, say). It is required: it keeps the limiter's keys apart
	// from the cache's and from other limits' sharing the server.
	Prefix string
	// Clock, when set, gives the time instead of the Redis server's clock;
	// for tests. See Redis.
	Clock Clock
}

// Redis is a Limiter that keeps each key's state in Redis, so that a limit
// holds across all the processes sharing the server. Each Allow is one
// round trip: EVALSHA of one Lua script (EVAL when the server does not have
// it cached), which reads and updates the key atomically.
//
// The time is the Redis server's (TIME, inside the script), not the
// caller's: every process then measures one key against one clock, and a
// process whose clock is off cannot grant itself a fuller bucket or starve
// the others. (On Redis Cluster each key has one master, so one clock too;
// a failover may move that clock by the skew between the two servers,
// which costs at most that much of one key's allowance.) Tests set
// RedisOptions.Clock to move time by hand.
//
// It is safe for concurrent use.
type Redis struct {
	client       redis.Scripter
	limit        Limit
	prefix       string
	clock        Clock
	t, window    time.Duration
	tArg, winArg string
}

// NewRedis returns a Redis limiter for l that runs its script through
// client: a *redis.Client, *redis.ClusterClient or any
// redis.UniversalClient. The client's timeouts bound Allow, as does its
// context.
func NewRedis(client redis.Scripter, l Limit, opts RedisOptions) (*Redis, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("ratelimit: no Redis client")
	}
	if opts.Prefix == "" {
		return nil, errors.New("ratelimit: a Redis limiter needs a key prefix")
	}
	return &Redis{
		client: client,
		limit:  l,
		prefix: opts.Prefix,
		clock:  opts.Clock,
		t:      l.interval(),
		window: l.window(),
		tArg:   strconv.FormatInt(l.interval().Microseconds(), 10),
		winArg: strconv.FormatInt(l.window().Microseconds(), 10),
	}, nil
}

// Allow counts a request against key. It returns an error, and the zero
// Decision, when Redis cannot answer: see Limiter for what to do then.
func (r *Redis) Allow(ctx context.Context, key string) (Decision, error) {
	now := ""
	if r.clock != nil {
		now = strconv.FormatInt(r.clock.NowNano()/int64(time.Microsecond), 10)
	}
	res, err := gcraScript.Run(ctx, r.client, []string{r.prefix + key}, r.tArg, r.winArg, now).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: redis: the script answered %d values, want 2", len(res))
	}
	return decide(res[0] == 1, time.Duration(res[1])*time.Microsecond, r.t, r.window), nil
}

// Limit returns the limit r enforces.
func (r *Redis) Limit() Limit { return r.limit }

var _ Limiter = (*Redis)(nil)
