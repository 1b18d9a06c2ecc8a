package caddymodule

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestL1HitTouchesNothing proves that an L1 hit reaches neither Redis nor
// the store: a counting wrapper around the real store, and a hook on the
// real Redis client that counts every command.
func TestL1HitTouchesNothing(t *testing.T) {
	t.Parallel()
	c := newCode(t, "hot")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/hot"})
	open, count := counting()
	h := provision(t, &Handler{
		Database: dsn, Redis: testenv.RedisAddr(t), RedisPrefix: testenv.UniquePrefix(t), openStore: open,
	})
	t.Cleanup(func() { h.res.redis.Del(context.Background(), h.l2.Key("", c)) })

	if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 302 {
		t.Fatalf("first request: %d", w.Code)
	}
	if lookups(count) != 1 {
		t.Fatalf("first request: %d lookups, want 1", lookups(count))
	}
	hook := new(countingHook)
	h.res.redis.AddHook(hook)
	for range 3 {
		if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 302 || w.Header().Get("Location") != "https://example.com/hot" {
			t.Fatalf("L1 hit: %d %q", w.Code, w.Header().Get("Location"))
		}
	}
	if n := lookups(count); n != 1 {
		t.Errorf("L1 hits reached the store: %d lookups", n)
	}
	if n := hook.commands.Load(); n != 0 {
		t.Errorf("L1 hits sent %d commands to Redis", n)
	}
	if n := h.stats.l1Hits.Load(); n != 3 {
		t.Errorf("L1 hits: %d, want 3", n)
	}
}

// TestRedisFillAndHit: a miss fills Redis; another edge (a handler with its
// own L1) then answers from Redis without the store.
func TestRedisFillAndHit(t *testing.T) {
	t.Parallel()
	c := newCode(t, "l2")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/l2", Status: 307, ExpiresAt: exp})
	addr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Del(context.Background(), prefix+c); rdb.Close() })

	open1, count1 := counting()
	edge1 := provision(t, &Handler{Database: dsn, Redis: addr, RedisPrefix: prefix, openStore: open1})
	if w, _ := serve(edge1, "GET", "/"+c, nil); w.Code != 307 {
		t.Fatalf("edge 1: %d", w.Code)
	}
	if lookups(count1) != 1 || edge1.stats.storeHits.Load() != 1 {
		t.Fatalf("edge 1: %d lookups, %d store hits; want 1", lookups(count1), edge1.stats.storeHits.Load())
	}
	got, ok, err := l2cache.New(rdb, prefix, time.Hour).Get(t.Context(), "", c)
	if err != nil || !ok || got.URL != "https://example.com/l2" || got.Status != 307 || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("Redis after the miss: %+v, %v, %v", got, ok, err)
	}
	if ttl := rdb.PTTL(t.Context(), prefix+c).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("Redis TTL %v: want at most the hour the link has left", ttl)
	}

	// Another edge: its own resources (keySalt), the same Redis.
	open2, count2 := counting()
	edge2 := provision(t, &Handler{Database: dsn, Redis: addr, RedisPrefix: prefix, openStore: open2, keySalt: "edge2"})
	if w, _ := serve(edge2, "GET", "/"+c, nil); w.Code != 307 || w.Header().Get("Location") != "https://example.com/l2" {
		t.Fatalf("edge 2: %d %q", w.Code, w.Header().Get("Location"))
	}
	if n := lookups(count2); n != 0 || edge2.stats.l2Hits.Load() != 1 {
		t.Fatalf("edge 2: %d lookups, %d L2 hits; want an L2 hit", n, edge2.stats.l2Hits.Load())
	}
}

// TestRedisOutageFallsThrough points the module at a port where nothing
// listens: lookups go to the store, the client sees no error, and the
// failure is logged (sampled).
func TestRedisOutageFallsThrough(t *testing.T) {
	t.Parallel()
	c := newCode(t, "outage")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/o"})
	core, logs := observer.New(zapcore.WarnLevel)
	open, count := counting()
	h := &Handler{Database: dsn, Redis: "127.0.0.1:1", openStore: open}
	h.logger = zap.New(core)
	provision(t, h)

	start := time.Now()
	for _, p := range []string{"/" + c, "/" + newCode(t, "unknown"), "/" + newCode(t, "unknown")} {
		w, err := serve(h, "GET", p, nil)
		if err != nil {
			t.Fatalf("%s: error %v", p, err)
		}
		if p == "/"+c && (w.Code != 302 || w.Header().Get("Location") != "https://example.com/o") {
			t.Fatalf("%s: %d %q", p, w.Code, w.Header().Get("Location"))
		}
		if p != "/"+c && w.Code != 404 {
			t.Fatalf("%s: %d", p, w.Code)
		}
	}
	if lookups(count) != 3 {
		t.Errorf("store lookups: %d, want 3", lookups(count))
	}
	if h.stats.l2Errors.Load() == 0 {
		t.Error("no Redis errors counted")
	}
	if logs.FilterMessage("redis L2 read failed; using the store").Len() == 0 {
		t.Error("Redis read failure not logged")
	}
	// A refused connection must cost little: no retries, no dial backoff.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("three misses with Redis down took %v", d)
	}
}

// TestNegativeEntriesExpire: an unknown code is cached for negative_ttl,
// then looked up again; the clock is injected.
func TestNegativeEntriesExpire(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	clock := newFakeClock()
	open, count := counting()
	h := &Handler{Database: dsn, NegativeTTL: caddy.Duration(5 * time.Second), openStore: open}
	h.clock = clock
	provision(t, h)
	c := newCode(t, "new")

	if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 404 {
		t.Fatalf("before create: %d", w.Code)
	}
	create(t, seed, linkstore.Link{Code: c, URL: "https://example.com/new"})
	clock.Advance(5*time.Second - time.Millisecond)
	if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 404 || lookups(count) != 1 {
		t.Fatalf("within negative_ttl: %d after %d lookups; want the cached 404", w.Code, lookups(count))
	}
	clock.Advance(time.Millisecond)
	if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 302 || lookups(count) != 2 {
		t.Fatalf("after negative_ttl: %d after %d lookups; want a fresh lookup and 302", w.Code, lookups(count))
	}
}

// TestFoundEntriesExpire: a found link stays in L1 for cache_ttl, or only
// until the link itself expires when that is sooner.
func TestFoundEntriesExpire(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cLong, cShort := newCode(t, "long"), newCode(t, "short")
	dsn := seededDSN(t,
		linkstore.Link{Code: cLong, URL: "https://example.com/long"},
		linkstore.Link{Code: cShort, URL: "https://example.com/short", ExpiresAt: clock.Now().Add(10 * time.Second)})
	open, count := counting()
	h := &Handler{Database: dsn, CacheTTL: caddy.Duration(time.Minute), openStore: open}
	h.clock = clock
	provision(t, h)

	for _, c := range []string{cLong, cShort} {
		if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 302 {
			t.Fatalf("%s: %d", c, w.Code)
		}
	}
	clock.Advance(10 * time.Second)
	// The short link left L1 when it expired: looked up again, now a 410.
	if w, _ := serve(h, "GET", "/"+cShort, nil); w.Code != 410 || lookups(count) != 3 {
		t.Fatalf("expired link: %d after %d lookups; want 410 after a fresh lookup", w.Code, lookups(count))
	}
	if w, _ := serve(h, "GET", "/"+cLong, nil); w.Code != 302 || lookups(count) != 3 {
		t.Fatalf("long link within cache_ttl: %d after %d lookups; want an L1 hit", w.Code, lookups(count))
	}
	clock.Advance(50 * time.Second)
	if w, _ := serve(h, "GET", "/"+cLong, nil); w.Code != 302 || lookups(count) != 4 {
		t.Fatalf("long link after cache_ttl: %d after %d lookups; want a fresh lookup", w.Code, lookups(count))
	}
}

// TestExpiryCheckedOnEveryHit: a link cached while live answers 410 from L1
// the moment it expires, whatever its L1 lifetime.
func TestExpiryCheckedOnEveryHit(t *testing.T) {
	t.Parallel()
	e := entryOf(linkstore.Link{URL: "https://e.x/", ExpiresAt: time.Unix(100, 0)})
	if e.expired(time.Unix(99, 999_999_999).UnixNano()) || !e.expired(time.Unix(100, 0).UnixNano()) {
		t.Fatal("expiry boundary differs from linkstore.Link.Expired")
	}
	if entryOf(linkstore.Link{URL: "x"}).expired(1 << 62) {
		t.Fatal("a link without expiry expired")
	}
	// Times beyond int64 nanoseconds clamp instead of wrapping.
	far := entryOf(linkstore.Link{URL: "x", ExpiresAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	past := entryOf(linkstore.Link{URL: "x", ExpiresAt: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if far.expired(time.Now().UnixNano()) || !past.expired(time.Now().UnixNano()) {
		t.Fatal("far expiry times wrapped")
	}
}

// TestSingleLoadPerCode: concurrent misses of one code cause one lookup.
func TestSingleLoadPerCode(t *testing.T) {
	t.Parallel()
	c := newCode(t, "burst")
	h, count, started, release := blockedHandler(t, c, "https://example.com/b")

	const n = 16
	done := make(chan int, n)
	for range n {
		go func() {
			w, _ := serve(h, "GET", "/"+c, nil)
			done <- w.Code
		}()
	}
	// Wait until the first load is inside Lookup, then let it finish.
	testenv.Receive(t, started, 10*time.Second, "no lookup started")
	close(release)
	for range n {
		if code := <-done; code != 302 {
			t.Errorf("status %d", code)
		}
	}
	if got := lookups(count); got != 1 {
		t.Errorf("%d lookups for %d concurrent misses; want 1", got, n)
	}
}

// TestLoadOutlivesTheRequestThatStartedIt: the request that starts a
// shared load goes away; the others waiting for the same code get their
// redirect from that same load, because it does not run on that request's
// context. (otter would retry a load whose owner's context ended, at the
// cost of a second lookup; detaching avoids it.)
func TestLoadOutlivesTheRequestThatStartedIt(t *testing.T) {
	t.Parallel()
	c := newCode(t, "gone")
	h, count, started, release := blockedHandler(t, c, "https://example.com/g")

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		r := httptest.NewRequest("GET", "/"+c, nil).WithContext(ctx)
		first <- h.ServeHTTP(httptest.NewRecorder(), r, new(nextHandler))
	}()
	testenv.Receive(t, started, 10*time.Second, "no lookup started")
	second := make(chan int, 1)
	go func() {
		w, _ := serve(h, "GET", "/"+c, nil)
		second <- w.Code
	}()
	cancel() // the first client goes away while its load is in Lookup
	close(release)
	if code := <-second; code != 302 {
		t.Fatalf("the waiting request got %d, want 302", code)
	}
	<-first
	if got := lookups(count); got != 1 {
		t.Fatalf("%d lookups, want 1: the load was not shared", got)
	}
}

// blockedHandler provisions a handler, with one link c -> url in its
// database, whose store counts lookups and holds each in a blockingStore
// with the channels started and release.
func blockedHandler(t *testing.T, c, url string) (h *Handler, count *atomic.Pointer[countingStore], started, release chan struct{}) {
	t.Helper()
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: url})
	started, release = make(chan struct{}), make(chan struct{})
	inner, count := counting()
	open := func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		s, err := inner(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &blockingStore{Store: s, started: started, release: release}, nil
	}
	return provision(t, &Handler{Database: dsn, openStore: open}), count, started, release
}

// blockingStore holds the answer of every Lookup until release is
// closed, and closes started once the first one has read the store (so
// that what the store holds from then on is not in that answer).
type blockingStore struct {
	linkstore.Store
	once             sync.Once
	started, release chan struct{}
}

func (s *blockingStore) Lookup(ctx context.Context, domain, code string) (linkstore.Link, error) {
	l, err := s.Store.Lookup(ctx, domain, code)
	s.once.Do(func() { close(s.started) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return linkstore.Link{}, ctx.Err()
	}
	return l, err
}

// countingHook counts the commands a Redis client sends.
type countingHook struct{ commands atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestEntryIsCompact keeps the L1 value at small integers (see entry):
// 32 bytes on 64-bit platforms (24 before the workspace of click events
// joined it), no pointer (flatcache.New would panic).
func TestEntryIsCompact(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(entry{}); size > 32 {
		t.Fatalf("entry is %d bytes; keep it at 32 or less", size)
	}
}
