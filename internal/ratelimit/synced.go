package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of SyncedOptions.
const (
	// DefaultSyncInterval is how often a Synced limiter sends its counts.
	DefaultSyncInterval = 100 * time.Millisecond
	// DefaultSyncTimeout bounds one sync: the pipeline's round trip.
	DefaultSyncTimeout = 300 * time.Millisecond
	// DefaultMaxPending bounds the clients a Synced limiter counts
	// between two syncs (about 100 bytes each with their map entry).
	DefaultMaxPending = 100_000
)

// pendingShards is the number of locks the pending counts are spread
// over, so that requests of different clients rarely wait for one
// another; a power of two.
const pendingShards = 16

// syncScript adds n requests, served already, to one key's TAT and
// answers how far ahead of now the TAT then is. Unlike gcraScript it
// never refuses: the requests were served, and recording them all is
// what makes the processes that served beyond the limit refuse the key
// for as long as it takes to pay them back. The key and its value are
// gcraScript's (the same prefix, TAT in µs, expiring when the bucket is
// full), so the two scripts can share keys, as during a rolling upgrade.
//
//	KEYS[1]  the key's TAT, µs since the epoch
//	ARGV[1]  T, the emission interval, µs
//	ARGV[2]  Burst*T, µs (unused; gcraScript's arguments, in its order)
//	ARGV[3]  now, µs since the epoch; empty for the server's clock
//	ARGV[4]  n, the requests to add, at least 1
var syncScript = redis.NewScript(luaNow + `
local t = tonumber(ARGV[1])
local n = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
tat = tat + n * t
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', string.format('%d', math.ceil((tat - now) / 1000)))
return tat - now
`)

// PipelineClient is the part of a Redis client that a Synced limiter
// uses: a *redis.Client, *redis.ClusterClient (whose pipelines are split
// by node, each script going to its key's) or any redis.UniversalClient.
type PipelineClient interface {
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// SyncedOptions configures a Synced limiter.
type SyncedOptions struct {
	// Prefix starts every Redis key the limiter writes. Required; see
	// RedisOptions.Prefix.
	Prefix string
	// Interval is the time between two syncs; 0 means
	// DefaultSyncInterval. The limit may be overshot by about what every
	// process serves in one Interval: see Synced.
	Interval time.Duration
	// Timeout bounds each sync; 0 means DefaultSyncTimeout.
	Timeout time.Duration
	// MaxKeys bounds the local limiter's keys (LocalOptions.MaxKeys).
	MaxKeys int
	// MaxPending bounds the keys counted between two syncs; 0 means
	// DefaultMaxPending. A request of a new key beyond it is still
	// decided by the local limiter, but its count is dropped (reported
	// as Lost) and a sync starts early.
	MaxPending int
	// Clock is the time source of the local limiter and, when set, of the
	// script too (instead of the Redis server's clock); for tests.
	Clock Clock
	// OnSync, when set, is called by the limiter's goroutine after each
	// sync that had something to send or lost something, never after
	// Close returns. It must not block for long.
	OnSync func(SyncResult)
}

// SyncResult reports one sync.
type SyncResult struct {
	// Keys is the number of keys whose counts were sent.
	Keys int
	// Requests is the number of requests counted in them.
	Requests int64
	// Lost is the number of requests the shared limit will never see:
	// those of keys whose script failed, and those dropped since the
	// previous sync because MaxPending keys were already counted. The
	// local limiter alone decided them.
	Lost int64
	// Err is the first error of the sync, nil when every script ran.
	Err error
}

// Synced is a Limiter for a limit shared by every process that syncs with
// one Redis, with no round trip on the request path. Each request is
// decided by a Local limiter with the same limit, whose buckets also hold
// what the last sync learned from Redis; an allowed request is counted
// per key in memory. Every Interval, a goroutine sends the counts to
// Redis in one pipeline, one script per key that adds them to the key's
// TAT there (all of them: they were served), and raises each local TAT to
// the shared one it answers. A key that the processes together pushed
// past the limit is so refused by every process, from its own memory,
// until the shared bucket has room again; with the same Retry-After and
// RateLimit header fields as a refusal of Local.
//
// The limit is approximate. Between two syncs each process knows only
// its own requests and the shared TAT of the last sync, so a key sending
// to N processes at once may be served up to about N × Rate × Interval
// requests more than the limit within a window, plus one Burst (each
// process's bucket starts full) when a quiet key starts at every process
// at once. What was served is always recorded, so the key then waits
// until the shared bucket has paid the excess back: over time the key
// gets the limit. One process alone never lets a key beyond the limit:
// its local bucket holds it there.
//
// When Redis fails or is slow, the counts of that sync are dropped, not
// kept for the next (reported as Lost in SyncResult.Lost), and every
// process limits on its own, with the same limit, until Redis answers:
// the fleet then admits at most N times the limit, as Limiter recommends.
//
// Close stops the goroutine; the counts not yet sent are dropped.
type Synced struct {
	local        *Local
	client       PipelineClient
	prefix       string
	clock        Clock // nil: the Redis server's clock
	tArg, winArg string
	interval     time.Duration
	timeout      time.Duration
	onSync       func(SyncResult)

	seed     maphash.Seed
	maxShard int // keys per shard
	shards   [pendingShards]pendingShard
	dropped  atomic.Int64  // requests not counted since the last sync
	kick     chan struct{} // a sync is due before the next tick

	syncMu sync.Mutex // one Sync at a time: it owns the shards' spare maps

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// pendingShard holds the counts of the keys that hash to it.
type pendingShard struct {
	mu    sync.Mutex
	m     map[string]int64
	spare map[string]int64 // the map of the sync before, emptied; Sync's
	_     [40]byte         // a cache line of its own
}

// pendingCount is one key's count, taken for a sync.
type pendingCount struct {
	key string
	n   int64
}

// NewSynced returns a Synced limiter for l that syncs through client, and
// starts its goroutine; Close stops it.
func NewSynced(client PipelineClient, l Limit, opts SyncedOptions) (*Synced, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	switch {
	case client == nil:
		return nil, errors.New("ratelimit: no Redis client")
	case opts.Prefix == "":
		return nil, errors.New("ratelimit: a Synced limiter needs a key prefix")
	case opts.Interval < 0:
		return nil, fmt.Errorf("ratelimit: sync interval %v is negative", opts.Interval)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("ratelimit: sync timeout %v is negative", opts.Timeout)
	case opts.MaxPending < 0:
		return nil, fmt.Errorf("ratelimit: MaxPending %d is negative", opts.MaxPending)
	}
	local, err := NewLocal(l, LocalOptions{MaxKeys: opts.MaxKeys, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	s := &Synced{
		local:    local,
		client:   client,
		prefix:   opts.Prefix,
		clock:    opts.Clock,
		tArg:     strconv.FormatInt(l.interval().Microseconds(), 10),
		winArg:   strconv.FormatInt(l.window().Microseconds(), 10),
		interval: cmpPositive(opts.Interval, DefaultSyncInterval),
		timeout:  cmpPositive(opts.Timeout, DefaultSyncTimeout),
		onSync:   opts.OnSync,
		seed:     maphash.MakeSeed(),
		maxShard: max(1, cmpPositive(opts.MaxPending, DefaultMaxPending)/pendingShards),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]int64)
		s.shards[i].spare = make(map[string]int64)
	}
	// The goroutine's context is the limiter's own, never a request's:
	// it lives until Close.
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
	return s, nil
}

func cmpPositive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Allow counts a request against key, from memory only. It never fails;
// the context is unused.
func (s *Synced) Allow(ctx context.Context, key string) (Decision, error) {
	d, _ := s.local.Allow(ctx, key)
	if d.Allowed {
		s.count(key)
	}
	return d, nil
}

// count adds one request to key's pending count.
func (s *Synced) count(key string) {
	sh := &s.shards[maphash.String(s.seed, key)&(pendingShards-1)]
	sh.mu.Lock()
	n, ok := sh.m[key]
	if ok || len(sh.m) < s.maxShard {
		sh.m[key] = n + 1
		sh.mu.Unlock()
		return
	}
	sh.mu.Unlock()
	s.dropped.Add(1)
	select {
	case s.kick <- struct{}{}:
	default: // a sync is due already
	}
}

// run syncs every interval, and early when count asks, until ctx ends.
func (s *Synced) run(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.kick:
		}
		res := s.Sync(ctx)
		if ctx.Err() != nil {
			return // closed during the sync: its failure is Close's doing
		}
		if s.onSync != nil && (res.Keys > 0 || res.Lost > 0) {
			s.onSync(res)
		}
	}
}

// Sync sends the pending counts to Redis now and learns the shared TATs
// they answer; the limiter's goroutine calls it every Interval. It is
// bounded by the limiter's Timeout as well as by ctx.
func (s *Synced) Sync(ctx context.Context) SyncResult {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	batch := s.take()
	res := SyncResult{Keys: len(batch), Lost: s.dropped.Swap(0)}
	if len(batch) == 0 {
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now := ""
	if s.clock != nil {
		now = strconv.FormatInt(s.clock.NowNano()/int64(time.Microsecond), 10)
	}
	cmds := s.send(ctx, batch, now, syncScript.EvalSha)
	// A server that does not have the script yet (new, restarted, or a
	// Cluster node that was never sent it) answers NOSCRIPT: send those
	// again with the script's text, which also loads it there.
	var again []pendingCount
	var at []int
	for i, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again = append(again, batch[i])
			at = append(at, i)
		}
	}
	if len(again) > 0 {
		for j, c := range s.send(ctx, again, now, syncScript.Eval) {
			cmds[at[j]] = c
		}
	}
	for i, c := range cmds {
		p := batch[i]
		res.Requests += p.n
		ahead, err := c.Int64()
		if err != nil {
			res.Lost += p.n
			if res.Err == nil {
				res.Err = fmt.Errorf("ratelimit: redis sync: %w", err)
			}
			continue
		}
		// The shared TAT on this process's clock: the answer's time is
		// about now here too, off by the round trip, a few ms at most.
		s.local.raise(p.key, s.local.clock.NowNano()+ahead*int64(time.Microsecond))
	}
	return res
}

// scriptFunc is Script.EvalSha or Script.Eval.
type scriptFunc func(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd

// send runs script for each count in one pipeline and returns its
// commands, each with its answer or error.
func (s *Synced) send(ctx context.Context, batch []pendingCount, now string, script scriptFunc) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(batch))
	// Pipelined's error is the first command's error, which cmds carry.
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			cmds[i] = script(ctx, p, []string{s.prefix + c.key}, s.tArg, s.winArg, now, c.n)
		}
		return nil
	})
	return cmds
}

// take empties the pending counts and returns them.
func (s *Synced) take() []pendingCount {
	var batch []pendingCount
	for i := range s.shards {
		sh := &s.shards[i]
		// Swap in the spare map under the lock and read the full one
		// outside it, so that requests wait for two pointer writes only.
		sh.mu.Lock()
		full := sh.m
		sh.m, sh.spare = sh.spare, nil
		sh.mu.Unlock()
		for k, n := range full {
			batch = append(batch, pendingCount{k, n})
		}
		clear(full)
		sh.spare = full // only Sync, under syncMu, touches spare
	}
	return batch
}

// Local returns the local limiter that decides each request (for Peek
// and Len). Its buckets include what the syncs learned.
func (s *Synced) Local() *Local { return s.local }

// Limit returns the limit s enforces.
func (s *Synced) Limit() Limit { return s.local.limit }

// Close stops the goroutine, waiting for a sync under way to give up,
// drops the counts not yet sent and closes the local limiter. The
// limiter must not be used after. Calling Close again does nothing.
func (s *Synced) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.local.Close()
	})
}

var _ Limiter = (*Synced)(nil)
