package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// serveFrom runs a GET of target through h as sent by the peer remote,
// with the given X-Forwarded-For (none when empty).
func serveFrom(t testing.TB, h *Handler, target, remote, xff string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil {
		t.Fatalf("GET %s from %s: %v", target, remote, err)
	}
	return w
}

// burst sends n requests for target from remote and counts the answers by
// status.
func burst(t testing.TB, h *Handler, n int, target, remote string) map[int]int {
	t.Helper()
	got := make(map[int]int)
	for range n {
		got[serveFrom(t, h, target, remote, "").Code]++
	}
	return got
}

func wantCounts(t *testing.T, step string, got map[int]int, ok, refused int) {
	t.Helper()
	if got[302] != ok || got[429] != refused || len(got) > 2 || (len(got) == 2 && (ok == 0 || refused == 0)) {
		t.Fatalf("%s: answers %v, want %d × 302 and %d × 429", step, got, ok, refused)
	}
}

// linkHandler provisions a handler on SQLite with one link and the given
// settings, on a fake clock, and returns it with the link's code and its
// lookup count.
func linkHandler(t *testing.T, h *Handler) (*Handler, string, *fakeClock, func() int64) {
	t.Helper()
	c := newCode(t, "rl")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/rl"})
	open, count := counting()
	clock := newFakeClock()
	h.Database, h.openStore, h.clock = dsn, open, clock
	provision(t, h)
	return h, c, clock, func() int64 { return lookups(count) }
}

// TestRateLimitScriptedBurst drives one client through a scripted burst on
// a fake clock and checks the exact number of answers of each kind, the
// 429's headers, and that refused requests never reach the store.
func TestRateLimitScriptedBurst(t *testing.T) {
	t.Parallel()
	h, c, clock, lookups := linkHandler(t, &Handler{RateLimit: &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), Burst: 5}})
	const client = "192.0.2.10:5000"

	wantCounts(t, "burst of 8", burst(t, h, 8, "/"+c, client), 5, 3)
	if n := lookups(); n != 1 {
		t.Fatalf("%d store lookups; want 1 (the first request's)", n)
	}

	w := serveFrom(t, h, "/"+c, client, "")
	res := w.Result()
	want := map[string]string{
		"Retry-After":      "1",
		"RateLimit-Policy": `"redirects";q=5;w=1`,
		"RateLimit":        `"redirects";r=0;t=1`,
		"Content-Type":     problem.ContentType,
		"Cache-Control":    "no-store",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("429 %s: %q, want %q", k, got, v)
		}
	}
	if w.Code != 429 || w.Body.String() != string(bodyTooMany) {
		t.Fatalf("refused: %d %q", w.Code, w.Body.String())
	}

	// One emission interval (100ms) gives back exactly one request.
	clock.Advance(100 * time.Millisecond)
	wantCounts(t, "after 100ms", burst(t, h, 3, "/"+c, client), 1, 2)
	// A long pause fills the bucket to its burst, not beyond. (The link's
	// L1 entry has expired by then: one more lookup.)
	clock.Advance(time.Hour)
	wantCounts(t, "after an hour", burst(t, h, 7, "/"+c, client), 5, 2)
	if n := lookups(); n != 2 {
		t.Fatalf("%d store lookups; want 2", n)
	}

	// Another client has a bucket of its own.
	wantCounts(t, "another client", burst(t, h, 6, "/"+c, "198.51.100.7:1"), 5, 1)

	if got, want := h.stats.limitedRequests.Load(), uint64(3+1+2+2+1); got != want {
		t.Errorf("rate_limited{limit=requests} = %d, want %d", got, want)
	}
	if got := h.stats.redirects.Load(); got != 5+1+5+5 {
		t.Errorf("redirects = %d, want 16", got)
	}
}

// TestMissLimit checks that only 404s spend the miss budget, that a client
// out of it gets 429 for every code without a lookup, and that the budget
// refills at its rate.
func TestMissLimit(t *testing.T) {
	t.Parallel()
	// 2 misses a minute (one per 30 s), 3 at once.
	h, c, clock, lookups := linkHandler(t, &Handler{MissLimit: &RateLimit{Requests: 2, Window: caddy.Duration(time.Minute), Burst: 3}})
	const guesser, reader = "203.0.113.5:1", "203.0.113.6:1"

	// Hits spend nothing.
	wantCounts(t, "reader", burst(t, h, 50, "/"+c, reader), 50, 0)

	// Two unknown codes and a path that cannot be a code: three 404s.
	for _, p := range []string{"/" + newCode(t, "guess"), "/" + newCode(t, "guess"), "/not/a/code"} {
		if w := serveFrom(t, h, p, guesser, ""); w.Code != 404 {
			t.Fatalf("miss %s: %d, want 404", p, w.Code)
		}
	}
	before := lookups()
	// The budget is spent: every request of the guesser is refused,
	// a real code too, and none is looked up.
	for _, p := range []string{"/" + newCode(t, "guess"), "/" + c, "/not/a/code"} {
		w := serveFrom(t, h, p, guesser, "")
		if w.Code != 429 || w.Header().Get("RateLimit-Policy") != `"misses";q=3;w=90` || w.Header().Get("Retry-After") != "30" {
			t.Fatalf("%s with no misses left: %d %v", p, w.Code, w.Header())
		}
	}
	if n := lookups(); n != before {
		t.Fatalf("%d lookups while refused", n-before)
	}
	// The reader is unaffected.
	wantCounts(t, "reader again", burst(t, h, 5, "/"+c, reader), 5, 0)

	// 30 s give back one miss: a hit does not spend it, a 404 does.
	clock.Advance(30 * time.Second)
	wantCounts(t, "guesser after 30s, hits", burst(t, h, 3, "/"+c, guesser), 3, 0)
	if w := serveFrom(t, h, "/"+newCode(t, "guess"), guesser, ""); w.Code != 404 {
		t.Fatalf("one more miss: %d, want 404", w.Code)
	}
	if w := serveFrom(t, h, "/"+c, guesser, ""); w.Code != 429 {
		t.Fatalf("after spending it: %d, want 429", w.Code)
	}
	if got := h.stats.limitedMisses.Load(); got != 4 {
		t.Errorf("rate_limited{limit=misses} = %d, want 4", got)
	}
	if got := h.stats.notFound.Load(); got != 4 {
		t.Errorf("not_found = %d, want 4", got)
	}
}

// TestMissLimitNotSpentByNext: with not_found next, unknown codes go on to
// the next handler, which may serve them: that is no miss.
func TestMissLimitNotSpentByNext(t *testing.T) {
	t.Parallel()
	h, _, _, _ := linkHandler(t, &Handler{NotFound: "next", MissLimit: &RateLimit{Requests: 1, Window: caddy.Duration(time.Minute)}})
	for range 5 {
		if w := serveFrom(t, h, "/"+newCode(t, "n"), "192.0.2.1:1", ""); w.Code != 299 {
			t.Fatalf("unknown code with not_found next: %d, want the next handler's 299", w.Code)
		}
	}
}

// TestRateLimitClientIP: behind a trusted proxy the forwarded address is
// the client; from anyone else the header is ignored; IPv6 clients count
// by their prefix.
func TestRateLimitClientIP(t *testing.T) {
	t.Parallel()
	h, c, _, _ := linkHandler(t, &Handler{
		RateLimit:      &RateLimit{Requests: 1, Window: caddy.Duration(time.Hour)},
		TrustedProxies: []string{"10.0.0.0/8"},
		IPv6Prefix:     56,
	})
	p := "/" + c
	steps := []struct {
		remote, xff string
		want        int
	}{
		{"10.1.1.1:1", "198.51.100.1", 302},
		{"10.1.1.1:1", "198.51.100.1", 429},                // the same client through the proxy
		{"10.2.2.2:1", "198.51.100.1", 429},                // ... through another trusted proxy
		{"10.1.1.1:1", "198.51.100.2", 302},                // another client behind the proxy
		{"10.1.1.1:1", "1.2.3.4, 198.51.100.2", 429},       // a spoofed left part changes nothing
		{"198.51.100.9:1", "203.0.113.1", 302},             // untrusted peer: its own address counts
		{"198.51.100.9:1", "203.0.113.2", 429},             // ... whatever it claims
		{"[2001:db8:1:200::1]:1", "", 302},                 // an IPv6 client
		{"[2001:db8:1:2ff:ffff::9]:1", "", 429},            // the same /56
		{"[2001:db8:1:300::1]:1", "", 302},                 // another /56
		{"10.1.1.1:1", "2001:db8:1:3aa::5, 10.9.9.9", 429}, // the /56 above, through two proxies
	}
	for i, s := range steps {
		if w := serveFrom(t, h, p, s.remote, s.xff); w.Code != s.want {
			t.Fatalf("step %d (%s, XFF %q): %d, want %d", i, s.remote, s.xff, w.Code, s.want)
		}
	}
}

// TestSharedRateLimit: two edges sharing a Redis share one limit, each
// deciding from memory and learning the other's requests when it syncs;
// with Redis unreachable each edge falls back to its own bucket and counts
// the requests the shared limit could not see.
func TestSharedRateLimit(t *testing.T) {
	t.Parallel()
	addr := testenv.RedisAddr(t)
	name := "shared-" + newCode(t, "n") // a Redis key space of this test's own
	c := newCode(t, "shared")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/shared"})
	clock := newFakeClock()
	edge := func(salt, redisAddr string, sync time.Duration) *Handler {
		return provision(t, &Handler{
			Database: dsn, Redis: redisAddr, RedisPrefix: testenv.UniquePrefix(t), clock: clock, keySalt: t.Name() + salt,
			RateLimit: &RateLimit{Requests: 4, Window: caddy.Duration(time.Minute), Name: name, Shared: true, SyncInterval: caddy.Duration(sync)},
		})
	}
	// The test syncs A and B itself, in its order: their goroutines wait
	// the longest interval.
	a, b := edge("a", addr, maxSyncInterval), edge("b", addr, maxSyncInterval)
	const client = "192.0.2.44:1"
	// Before a sync each edge knows its own requests only: 3 + 3 served,
	// within the documented bound of one burst beyond the limit of 4.
	got := burst(t, a, 3, "/"+c, client)
	for k, v := range burst(t, b, 3, "/"+c, client) {
		got[k] += v
	}
	wantCounts(t, "two edges before a sync", got, 6, 0)
	// A syncs, then B: B learns the 6, and refuses until
	// the shared bucket has room (6 T = 90 s ahead, burst 4 T = 60 s:
	// back in 90 + 15 - 60 = 45 s).
	sync := func(h *Handler) {
		t.Helper()
		if res := h.limits.shared.Sync(t.Context()); res.Err != nil {
			t.Fatalf("sync: %+v", res)
		}
	}
	sync(a)
	sync(b)
	wantRefused := func(step string, h *Handler, retryAfter string) {
		t.Helper()
		w := serveFrom(t, h, "/"+c, client, "")
		if w.Code != 429 || w.Header().Get("Retry-After") != retryAfter {
			t.Fatalf("%s: %d, Retry-After %q; want 429 after %s", step, w.Code, w.Header().Get("Retry-After"), retryAfter)
		}
	}
	wantRefused("B after the syncs", b, "45")
	// A synced before B's requests reached Redis: it learns them at its
	// next sync of a request of this client, within the bound.
	wantCounts(t, "A before its next sync", burst(t, a, 1, "/"+c, client), 1, 0)
	sync(a)
	wantRefused("A after its next sync", a, "60")

	down := edge("down", testenv.FreeAddr(t), 0) // its goroutine syncs every 100ms
	wantCounts(t, "Redis down: the local limit", burst(t, down, 6, "/"+c, client), 4, 2)
	// The goroutine's sync fails: the 4 served requests are the ones the
	// shared limit never saw (the refused ones count nowhere).
	testenv.WaitFor(t, "the failed sync counted", 10*time.Second, func() bool { return down.stats.rateLimitErrors.Load() >= 4 })
	if n := down.stats.rateLimitErrors.Load(); n != 4 {
		t.Fatalf("rate_limit_errors = %d, want 4", n)
	}
}

// TestRateLimitMemoryBounded sends requests from a million distinct client
// addresses through a handler whose limiter keeps 20000 clients: the
// limiter stays within its bound, and the heap grows by far less than a
// million buckets would take.
func TestRateLimitMemoryBounded(t *testing.T) {
	const (
		maxClients = 20_000
		clients    = 1_000_000
	)
	h, c, _, _ := linkHandler(t, &Handler{RateLimit: &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), MaxClients: maxClients}})
	lim := h.limits.rate
	r := httptest.NewRequest("GET", "/"+c, nil)
	w := &benchWriter{h: make(http.Header)}
	next := new(nextHandler)
	heapBefore := heapInUse()
	start := time.Now()
	maxSeen := 0
	buf := make([]byte, 0, 32)
	for i := range clients {
		// 10.x.y.z, a new address every time.
		buf = strconv.AppendInt(append(buf[:0], "10."...), int64(i>>16&255), 10)
		buf = strconv.AppendInt(append(buf, '.'), int64(i>>8&255), 10)
		buf = strconv.AppendInt(append(buf, '.'), int64(i&255), 10)
		if i>>24 != 0 {
			t.Fatal("too many clients for 10/8")
		}
		r.RemoteAddr = string(append(buf, ":1"...))
		clear(w.h)
		if err := h.ServeHTTP(w, r, next); err != nil || w.code != 302 {
			t.Fatalf("client %s: %d %v", r.RemoteAddr, w.code, err)
		}
		if i%10_000 == 0 {
			maxSeen = max(maxSeen, lim.Len())
		}
	}
	elapsed := time.Since(start)
	n := lim.Len()
	grown := int64(heapInUse()) - int64(heapBefore)
	t.Logf("%d clients in %v (%v a request); limiter holds %d (max seen %d, bound %d); heap grew %.1f MB",
		clients, elapsed.Round(time.Millisecond), elapsed/clients, n, maxSeen, maxClients, float64(grown)/1e6)
	// otter applies its bound as it drains its write buffer, so it may be a
	// few thousand entries behind while writes keep coming.
	if n > maxClients+maxClients/10 || maxSeen > maxClients+maxClients/10 {
		t.Fatalf("limiter holds %d clients (max seen %d), bound %d", n, maxSeen, maxClients)
	}
	if grown > maxClients*1024 {
		t.Fatalf("heap grew by %d bytes: more than 1 KB per client the limiter may keep", grown)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
