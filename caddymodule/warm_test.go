package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestWarmCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     WarmStart
		err      string
	}{
		{"defaults", `shortify_edge sqlite://x.db`, WarmStart{}, ""},
		{"all", `shortify_edge sqlite://x.db {
			warm on
			warm_count 500
			warm_timeout 3s
			warm_publish 5s
		}`, WarmStart{Count: 500, Timeout: caddy.Duration(3 * time.Second), Publish: caddy.Duration(5 * time.Second)}, ""},
		{"off", `shortify_edge sqlite://x.db {
			warm off
		}`, WarmStart{Off: true}, ""},
		{"bad switch", `shortify_edge sqlite://x.db {
			warm maybe
		}`, WarmStart{}, `warm "maybe": want on or off`},
		{"zero count", `shortify_edge sqlite://x.db {
			warm_count 0
		}`, WarmStart{}, "warm_count"},
		{"bad timeout", `shortify_edge sqlite://x.db {
			warm_timeout soon
		}`, WarmStart{}, "warm_timeout"},
		{"twice", `shortify_edge sqlite://x.db {
			warm_count 5
			warm_count 6
		}`, WarmStart{}, "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Warm != tc.want {
				t.Fatalf("Warm = %+v, want %+v", h.Warm, tc.want)
			}
		})
	}
}

func TestWarmValidate(t *testing.T) {
	for _, tc := range []struct {
		w    WarmStart
		want string
	}{
		{WarmStart{Count: -1}, "warm_count -1"},
		{WarmStart{Timeout: caddy.Duration(-time.Second)}, "warm_timeout -1s"},
		{WarmStart{Publish: caddy.Duration(-time.Second)}, "warm_publish -1s"},
	} {
		h := Handler{Database: "sqlite://x.db", Warm: tc.w}
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.w, err, tc.want)
		}
	}
}

func TestTopCounts(t *testing.T) {
	counts := map[string]float64{"a": 3, "b": 5, "c": 3, "d": 1}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, ""}, {1, "b"}, {3, "b a c"}, {10, "b a c d"},
	} {
		var got []string
		for _, c := range topCounts(counts, tc.n) {
			got = append(got, c.key)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("top %d: %v, want %s", tc.n, got, tc.want)
		}
	}
}

// TestReadHotListPages reads a hot list larger than one page from two
// minutes' sets (real Redis): the count hottest of each set, their scores
// added, hottest first, as one read of each set would give.
func TestReadHotListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testenv.UniquePrefix(t)
	now := time.Now()
	keys := []string{hotBucketKey(hotKeyPrefix(prefix), now), hotBucketKey(hotKeyPrefix(prefix), now.Add(-hotBucket))}
	member := func(i int) string { return fmt.Sprintf("c%05d", i) }
	// This minute: c00000 (hottest) to c24999. The last minute: c20000 to
	// c24999 far hotter, and p00000 to p02999 the coldest of all.
	var cur, prev []redis.Z
	for i := range 25_000 {
		cur = append(cur, redis.Z{Score: float64(30_000 - i), Member: member(i)})
	}
	for i := 20_000; i < 25_000; i++ {
		prev = append(prev, redis.Z{Score: 100_000, Member: member(i)})
	}
	for i := range 3000 {
		prev = append(prev, redis.Z{Score: 1, Member: fmt.Sprintf("p%05d", i)})
	}
	for i, zs := range [][]redis.Z{cur, prev} {
		if err := rdb.ZAdd(ctx, keys[i], zs...).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Del(context.Background(), keys[i]) })
	}

	const count = 22_000 // two pages and part of a third; this minute's set is longer
	var want []string
	for i := 20_000; i < 22_000; i++ { // in both read ranges: 100000 + 30000 - i
		want = append(want, member(i))
	}
	for i := 22_000; i < 25_000; i++ { // past count in this minute's set: 100000, ties by name
		want = append(want, member(i))
	}
	for i := range count - len(want) {
		want = append(want, member(i))
	}
	got, err := readHotList(ctx, rdb, prefix, count, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("key %d: %s, want %s", i, got[i], want[i])
		}
	}

	// Shorter sets than count end the reading: every member, once.
	all, err := readHotList(ctx, rdb, prefix, 100_000, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 28_000 {
		t.Fatalf("whole list: %d keys, want 28000", len(all))
	}
}

func TestHotSampleEvery(t *testing.T) {
	for _, tc := range []struct{ every, want int }{{0, 1}, {1, 1}, {3, 4}, {64, 64}, {65, 128}} {
		tr := newHotTracker(nil, "p:", tc.every, time.Hour, 10, nil)
		if int(tr.every) != tc.want {
			t.Errorf("every %d: %d, want %d", tc.every, tr.every, tc.want)
		}
		_ = tr.Destruct()
	}
}

// TestReadyHandler checks the readiness endpoint's answers: ready with no
// warm start, not ready while one runs before its deadline, ready past it
// or once it is done.
func TestReadyHandler(t *testing.T) {
	now := time.Now()
	running := func(deadline time.Time, loaded, total int64) *warmer {
		w := &warmer{deadline: deadline, done: make(chan struct{})}
		w.loaded.Store(loaded)
		w.total.Store(total)
		return w
	}
	finished := running(now.Add(time.Hour), 10, 10)
	close(finished.done)
	for _, tc := range []struct {
		name    string
		warmers []*warmer
		status  int
		body    string
	}{
		{"no warm start", nil, 200, "ready\n"},
		{"running", []*warmer{running(now.Add(time.Second), 3, 10)}, 503, "warming the L1: 3 of 10 hot codes loaded"},
		{"past warm_timeout", []*warmer{running(now.Add(-time.Millisecond), 3, 10)}, 200, "ready\n"},
		{"done", []*warmer{finished}, 200, "ready\n"},
		{"one of two running", []*warmer{finished, running(now.Add(time.Second), 1, 4)}, 503, "1 of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := &warmRegistry{m: make(map[readyGate]struct{})}
			for _, w := range tc.warmers {
				reg.add(w)
			}
			rh := &ReadyHandler{reg: reg, now: func() time.Time { return now }}
			w := httptest.NewRecorder()
			if err := rh.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil), nil); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("%d %q, want %d with %q", w.Code, w.Body.String(), tc.status, tc.body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if tc.status == 503 {
				if w.Header().Get("Retry-After") != "1" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
					t.Errorf("503 headers: %v", w.Header())
				}
				var p struct{ Status int }
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != 503 {
					t.Errorf("problem document %q: %v", w.Body.String(), err)
				}
			}
		})
	}
}

func TestReadyCaddyfile(t *testing.T) {
	for in, wantErr := range map[string]bool{
		"shortify_edge_ready":           false,
		"shortify_edge_ready now":       true,
		"shortify_edge_ready {\n\tx\n}": true,
	} {
		var r ReadyHandler
		if err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); (err != nil) != wantErr {
			t.Errorf("%q: error %v, want error %v", in, err, wantErr)
		}
	}
}

// TestWarmOffWithoutRedis: the embedded default (SQLite, no Redis) and
// `warm off` have no hot list and no warm start; the edge is ready at once.
func TestWarmOffWithoutRedis(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]*Handler{
		"no redis": {Database: sqliteDSN(t)},
		"warm off": {Database: sqliteDSN(t), Redis: testenv.RedisAddr(t), RedisPrefix: testenv.UniquePrefix(t), Warm: WarmStart{Off: true}},
	} {
		h.keySalt = t.Name() + name
		provision(t, h)
		if h.hot != nil || h.warm != nil {
			t.Errorf("%s: hot %v, warm %v; want neither", name, h.hot, h.warm)
		}
	}
}

// gatedOpener opens the real store only once gate is closed, so that a
// test can hold a warm start's store lookups (and its readiness) back.
func gatedOpener(gate <-chan struct{}) (storeOpener, func() int64) {
	inner, count := counting()
	return func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return inner(ctx, cfg)
	}, func() int64 { return lookups(count) }
}

// createLinks creates links in batches with CreateMany.
func createLinks(tb testing.TB, s linkstore.Store, links []linkstore.Link) {
	tb.Helper()
	base := time.Now().UnixNano()
	for i := range links {
		links[i].ID = base + int64(i)
		links[i].CreatedAt = time.Now().UTC()
	}
	for len(links) > 0 {
		b := links[:min(1000, len(links))]
		links = links[len(b):]
		for i, err := range s.CreateMany(context.Background(), b) {
			if err != nil {
				tb.Fatalf("create %s: %v", b[i].Code, err)
			}
		}
	}
}

// TestWarmStartFillsL1 runs the warm start on real Redis and PostgreSQL:
// a running edge samples its redirects into the hot list; a new edge
// answers 503 on the readiness endpoint while its warm start waits for
// the store, then 200, and its L1 then holds every hot code, those Redis
// had from Redis and the others from the store, so that serving them
// costs no lookup.
func TestWarmStartFillsL1(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	const n = 120
	links := make([]linkstore.Link, n)
	for i := range links {
		links[i] = linkstore.Link{Code: newCode(t, fmt.Sprintf("warm%d", i)), URL: fmt.Sprintf("https://example.com/warm/%d", i)}
	}
	createLinks(t, seeder(t, dsn), links)

	// The running edge: every redirect sampled, published every 50 ms.
	fleet := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, hotEvery: 1,
		Warm: WarmStart{Publish: caddy.Duration(50 * time.Millisecond)}, keySalt: t.Name() + "fleet"})
	for _, l := range links {
		if w, err := serve(fleet, "GET", "/"+l.Code, nil); err != nil || w.Code != 302 {
			t.Fatalf("fleet %s: %d %v", l.Code, w.Code, err)
		}
	}
	testenv.WaitFor(t, "the hot list published", 10*time.Second, func() bool {
		return fleet.hot.publishedCodes() >= n
	})
	// A third of the links leave Redis (an eviction): the new edge must
	// load those from the store.
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, l := range links[:n/3] {
		if err := rdb.Del(context.Background(), fleet.l2.Key("", l.Code)).Err(); err != nil {
			t.Fatal(err)
		}
	}

	reg := &warmRegistry{m: make(map[readyGate]struct{})}
	ready := &ReadyHandler{reg: reg}
	readyz := func() int {
		w := httptest.NewRecorder()
		_ = ready.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil), nil)
		return w.Code
	}
	gate := make(chan struct{})
	open, storeLookups := gatedOpener(gate)
	edge := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, openStore: open,
		Warm: WarmStart{Timeout: caddy.Duration(time.Minute)}, warmReg: reg, keySalt: t.Name() + "new"})
	if edge.warm == nil {
		t.Fatal("no warm start")
	}
	// The codes Redis has arrive; the store's wait at the gate.
	testenv.WaitFor(t, "the codes in Redis loaded", 10*time.Second, func() bool {
		return edge.warm.loaded.Load() >= n-n/3
	})
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while warming: %d, want 503", code)
	}
	close(gate)
	testenv.WaitFor(t, "readyz 200", 20*time.Second, func() bool { return readyz() == http.StatusOK })
	if got := edge.warm.loaded.Load(); got != n {
		t.Fatalf("%d codes loaded, want %d", got, n)
	}
	if got := storeLookups(); got != n/3 {
		t.Fatalf("%d store lookups during the warm start, want %d (the codes Redis lacked)", got, n/3)
	}
	for _, l := range links {
		if _, url, ok := edge.l1.Peek(l.Code); !ok || url != l.URL {
			t.Fatalf("L1 after warm start: %s -> %q %v", l.Code, url, ok)
		}
	}
	for _, l := range links {
		if w, err := serve(edge, "GET", "/"+l.Code, nil); err != nil || w.Code != 302 || w.Header().Get("Location") != l.URL {
			t.Fatalf("new edge %s: %d %v", l.Code, w.Code, err)
		}
	}
	if got := storeLookups(); got != n/3 {
		t.Fatalf("%d store lookups after serving every hot code, want still %d", got, n/3)
	}
	if hits := edge.stats.l1Hits.Load(); hits != n {
		t.Fatalf("%d L1 hits, want %d", hits, n)
	}
}

// TestWarmStartTimeout: a warm start whose store never answers makes the
// edge ready at warm_timeout, and Cleanup stops it.
func TestWarmStartTimeout(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	code := newCode(t, "slow")
	create(t, seeder(t, dsn), linkstore.Link{Code: code, URL: "https://example.com/slow"})
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.ZIncrBy(context.Background(), hotBucketKey(hotKeyPrefix(prefix), time.Now()), 1, code).Err(); err != nil {
		t.Fatal(err)
	}
	reg := &warmRegistry{m: make(map[readyGate]struct{})}
	var once sync.Once
	gate := make(chan struct{})
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	open, _ := gatedOpener(gate)
	start := time.Now()
	edge := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, openStore: open,
		Warm: WarmStart{Timeout: caddy.Duration(300 * time.Millisecond)}, warmReg: reg, keySalt: t.Name()})
	if reg.status(time.Now()).ready && time.Since(start) < 300*time.Millisecond {
		t.Fatal("ready before the warm start did anything")
	}
	testenv.WaitFor(t, "ready at warm_timeout", 10*time.Second, func() bool { return reg.status(time.Now()).ready })
	if got := edge.warm.loaded.Load(); got != 0 {
		t.Fatalf("%d loaded with the store held back", got)
	}
}
