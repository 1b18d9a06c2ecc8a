package ratelimit

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// newTestSynced builds a Synced limiter on client whose goroutine syncs
// rarely (tests call Sync themselves), closed after the test.
func newTestSynced(t *testing.T, client PipelineClient, l Limit, opts SyncedOptions) *Synced {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = time.Hour
	}
	s, err := NewSynced(client, l, opts)
	if err != nil {
		t.Fatalf("NewSynced: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// edges returns two Synced limiters ("edges") sharing one Redis key space
// and a fake clock.
func edges(t *testing.T, client PipelineClient, l Limit) (a, b *Synced, clock *fakeClock) {
	t.Helper()
	clock = newFakeClock()
	opts := SyncedOptions{Prefix: testenv.UniquePrefix(t), Clock: clock}
	return newTestSynced(t, client, l, opts), newTestSynced(t, client, l, opts), clock
}

func syncOK(t *testing.T, s *Synced) SyncResult {
	t.Helper()
	res := s.Sync(t.Context())
	if res.Err != nil || res.Lost != 0 {
		t.Fatalf("Sync: %+v", res)
	}
	return res
}

// A client that one edge pushed over the limit is refused by the other,
// from memory, once both synced, with the Retry-After of the shared
// bucket; and it is back when that time has passed.
func TestSyncedLearnsFromTheOtherEdge(t *testing.T) {
	t.Parallel()
	a, b, clock := edges(t, redisClient(t), Limit{Rate: 10, Burst: 10})
	const key = "198.51.100.1"
	for i := range 10 {
		if d := allow(t, a, key); !d.Allowed {
			t.Fatalf("request %d at A: %+v", i, d)
		}
	}
	if d := allow(t, b, key); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("first request at B, before any sync: %+v", d)
	}
	if res := syncOK(t, a); res.Keys != 1 || res.Requests != 10 {
		t.Fatalf("A's sync: %+v", res)
	}
	syncOK(t, b) // B's one request: the shared TAT is now 11 T ahead
	d := allow(t, b, key)
	if d.Allowed || d.RetryAfter != 200*time.Millisecond || d.Remaining != 0 {
		t.Fatalf("B after the sync: %+v, want refused for 200ms (11 served, burst 10)", d)
	}
	if d := allow(t, a, key); d.Allowed {
		t.Fatalf("A after its sync: %+v", d)
	}
	clock.Advance(200 * time.Millisecond)
	if d := allow(t, b, key); !d.Allowed {
		t.Fatalf("B once the shared bucket has room: %+v", d)
	}
	// A client B never saw is unknown to it: nothing learned, full bucket.
	if d := allow(t, b, "198.51.100.2"); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("another client at B: %+v", d)
	}
}

// Two edges that each get more than the limit from one client, syncing
// every interval, hold it near the limit: within the documented bound of
// edges × rate × interval plus one burst beyond it, and never below it.
func TestSyncedTwoEdgesHoldTheLimit(t *testing.T) {
	t.Parallel()
	const (
		rate     = 100
		burst    = 20
		interval = 100 * time.Millisecond
		step     = 5 * time.Millisecond
		duration = 5 * time.Second
		perStep  = 2 // each edge gets 400/s, 4× the limit
	)
	a, b, clock := edges(t, redisClient(t), Limit{Rate: rate, Burst: burst})
	served := 0
	for elapsed := time.Duration(0); elapsed < duration; elapsed += step {
		for range perStep {
			for _, e := range []*Synced{a, b} {
				if d := allow(t, e, "k"); d.Allowed {
					served++
				}
			}
		}
		clock.Advance(step)
		if (elapsed+step)%interval == 0 {
			syncOK(t, a)
			syncOK(t, b)
		}
	}
	limit := int(rate*duration.Seconds()) + burst
	bound := limit + burst + int(2*rate*interval.Seconds())
	t.Logf("served %d in %v; the limit allows %d, the documented bound %d", served, duration, limit, bound)
	if served > bound || served < limit-burst {
		t.Fatalf("served %d, want within [%d, %d]", served, limit-burst, bound)
	}
	// Alone, one edge keeps to the limit exactly, as Local does.
	c, _, clock2 := edges(t, redisClient(t), Limit{Rate: rate, Burst: burst})
	served = 0
	for elapsed := time.Duration(0); elapsed < duration; elapsed += step {
		for range 2 * perStep {
			if d := allow(t, c, "k"); d.Allowed {
				served++
			}
		}
		clock2.Advance(step)
		if (elapsed+step)%interval == 0 {
			syncOK(t, c)
		}
	}
	if served > limit {
		t.Fatalf("one edge served %d, the limit allows %d", served, limit)
	}
}

// With Redis unreachable the local limit still holds, and the sync
// reports the requests it could not count and its error.
func TestSyncedRedisDown(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: testenv.FreeAddr(t), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s := newTestSynced(t, c, Limit{Rate: 1, Burst: 3}, SyncedOptions{Prefix: "p:", Clock: newFakeClock()})
	allowed := 0
	for range 6 {
		if allow(t, s, "k").Allowed {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d allowed with Redis down, want the local burst of 3", allowed)
	}
	res := s.Sync(t.Context())
	if res.Err == nil || res.Lost != 3 || res.Keys != 1 {
		t.Fatalf("Sync with Redis down: %+v, want an error and 3 lost", res)
	}
	// Dropped, not kept for the next sync.
	if res := s.Sync(t.Context()); res.Keys != 0 || res.Lost != 0 || res.Err != nil {
		t.Fatalf("the sync after: %+v, want nothing left", res)
	}
}

// Beyond MaxPending keys, new keys are still decided locally but their
// counts are dropped, reported as lost, and a sync starts early.
func TestSyncedMaxPending(t *testing.T) {
	t.Parallel()
	var reports atomic.Int64
	var lost atomic.Int64
	s := newTestSynced(t, redisClient(t), Limit{Rate: 1, Burst: 1}, SyncedOptions{
		Prefix: testenv.UniquePrefix(t), MaxPending: pendingShards, Clock: newFakeClock(),
		OnSync: func(r SyncResult) { lost.Add(r.Lost); reports.Add(1) },
	})
	for i := range 200 {
		if d := allow(t, s, strconv.Itoa(i)); !d.Allowed {
			t.Fatalf("client %d: %+v", i, d)
		}
	}
	// The interval is an hour: only the early sync reports.
	testenv.WaitFor(t, "an early sync", 10*time.Second, func() bool { return reports.Load() > 0 })
	res := s.Sync(t.Context())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := lost.Load() + res.Lost; got < 200-2*pendingShards || got > 200-pendingShards/2 {
		t.Fatalf("%d requests lost of 200, with %d keys at most per sync", got, pendingShards)
	}
}

// The script goes again with its text when the server forgot it.
func TestSyncedNoScript(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	a, b, _ := edges(t, c, Limit{Rate: 1, Burst: 2})
	allow(t, a, "k")
	allow(t, a, "k")
	allow(t, b, "k")
	syncOK(t, a)
	if err := c.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	syncOK(t, b)
	if d := allow(t, b, "k"); d.Allowed {
		t.Fatalf("after a sync through EVAL: %+v", d)
	}
}

// On Redis Cluster each key's script goes to its node, in one pipeline
// per node: clients spread over the slots all learn.
func TestSyncedCluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	a, b, _ := edges(t, cluster.Client(t), Limit{Rate: 1, Burst: 2})
	const clients = 50
	for i := range clients {
		key := "203.0.113." + strconv.Itoa(i)
		allow(t, a, key)
		allow(t, a, key)
		allow(t, b, key)
	}
	if res := syncOK(t, a); res.Keys != clients {
		t.Fatalf("A's sync: %+v", res)
	}
	syncOK(t, b)
	for i := range clients {
		if d := allow(t, b, "203.0.113."+strconv.Itoa(i)); d.Allowed {
			t.Fatalf("client %d at B after the syncs: %+v", i, d)
		}
	}
}

// The goroutine syncs on its own every interval, and Close stops it: no
// report after Close returns.
func TestSyncedCloseStopsTheGoroutine(t *testing.T) {
	t.Parallel()
	var reports, afterClose atomic.Int64
	var closed atomic.Bool
	s, err := NewSynced(redisClient(t), Limit{Rate: 1, Burst: 1}, SyncedOptions{
		Prefix: testenv.UniquePrefix(t), Interval: time.Millisecond,
		OnSync: func(SyncResult) {
			reports.Add(1)
			if closed.Load() {
				afterClose.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	allow(t, s, "k")
	testenv.WaitFor(t, "a sync", 10*time.Second, func() bool { return reports.Load() > 0 })
	s.Close()
	closed.Store(true)
	select {
	case <-s.done:
	default:
		t.Fatal("Close returned with the goroutine running")
	}
	s.Close() // again: nothing
	if n := afterClose.Load(); n != 0 {
		t.Fatalf("%d syncs reported after Close", n)
	}
}

func TestNewSyncedRefuses(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	ok := Limit{Rate: 1, Burst: 1}
	for name, tc := range map[string]struct {
		client PipelineClient
		l      Limit
		opts   SyncedOptions
	}{
		"no client":         {nil, ok, SyncedOptions{Prefix: "p"}},
		"no prefix":         {c, ok, SyncedOptions{}},
		"bad limit":         {c, Limit{}, SyncedOptions{Prefix: "p"}},
		"negative interval": {c, ok, SyncedOptions{Prefix: "p", Interval: -1}},
		"negative timeout":  {c, ok, SyncedOptions{Prefix: "p", Timeout: -1}},
		"negative pending":  {c, ok, SyncedOptions{Prefix: "p", MaxPending: -1}},
	} {
		if s, err := NewSynced(tc.client, tc.l, tc.opts); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}
