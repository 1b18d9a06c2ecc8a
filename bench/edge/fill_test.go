package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/testkit/linkseed"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestWarmStartFill runs -fill start on a few thousand links, half of
// them on the custom domain, against real PostgreSQL, a redis-server of
// its own and the shortify binary: the edge's warm start puts every link
// in A's L1 from the hot list (startWarm checks the edge's warm metrics
// and that a sample of codes are L1 hits with the right answers), and
// the memory figures come from forced collections of the twin and of A.
func TestWarmStartFill(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	rs, rdb := testRedis(t, dir)

	const n = 3000
	links, prefix := linkSet{domainShare: 0.5}, "fill-test:"
	db, codes := testLinks(t, rdb, n, links, prefix)

	b := &bench{cfg: config{bin: testenv.Shortify(t), redis: rs.Addr, fill: fillStart}, dir: dir, rdb: rdb, prefix: prefix}
	opts := shortifyOptions{database: db.dsn, redis: rs.Addr, redisPrefix: prefix, cacheSize: n, cacheTTL: "1h", hosts: ownHost, ttl: privateRedisTTL}
	a, before, err := b.startWarm(ctx, "A-test", opts, links, codes)
	if a != nil {
		t.Cleanup(a.stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	after, err := liveHeap(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// A's heap holds n links more than its twin's; a few hundred bytes
	// each, not nothing and not megabytes.
	if per := (after - before) / 2 / n; per < 50 || per > 5000 {
		t.Errorf("heap goal %.0f before, %.0f after: %.0f bytes per link, want a few hundred", before, after, per)
	}
	// The harness's hot list, in the minute it was written, has every
	// code, hottest first: the first code's member leads.
	top, err := rdb.ZRevRangeWithScores(ctx, linkseed.HotListKey(prefix, time.Now()), 0, 0).Result()
	if err != nil || len(top) == 0 {
		// The minute may have turned since: the previous one has it.
		top, err = rdb.ZRevRangeWithScores(ctx, linkseed.HotListKey(prefix, time.Now().Add(-time.Minute)), 0, 0).Result()
	}
	if err != nil || len(top) != 1 || top[0].Member != linkseed.HotMember(links.link(0, codes[0]).Domain, codes[0]) || top[0].Score != n {
		t.Errorf("hot list top = %v, %v; want %s with score %d", top, err, codes[0], n)
	}
}

// TestWarmStartNotReady: an edge whose warm start loads fewer links than
// asked (the hot list lacks some codes) fails the fill with the numbers.
func TestWarmStartShortList(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	rs, rdb := testRedis(t, dir)
	links, prefix := linkSet{}, "short-list:"
	db, codes := testLinks(t, rdb, 100, links, prefix)
	// Half of the codes on the list, the edge asked for all of them.
	if _, err := linkseed.WriteHotList(ctx, rdb, prefix, privateRedisTTL, 50, links.source(codes), time.Now()); err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: config{bin: testenv.Shortify(t), redis: rs.Addr}, dir: dir, rdb: rdb, prefix: prefix}
	opts := shortifyOptions{database: db.dsn, redis: warmStartRedis(rs.Addr), redisPrefix: prefix, cacheSize: 1000, cacheTTL: "1h",
		warmCount: len(codes), warmTimeout: time.Minute}
	a, err := b.start(ctx, "A-short", withMetrics(opts.body()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	_, err = waitWarmStart(ctx, a, len(codes))
	if err == nil || !strings.Contains(err.Error(), "put 50 links in the L1") {
		t.Fatalf("waitWarmStart = %v, want it to say that 50 links were loaded", err)
	}
}

func TestWithAdmin(t *testing.T) {
	cf := siteBlock("127.0.0.1:4567", "\tredir * https://example.com/ 302")
	if got := adminOf(cf); got != "" {
		t.Errorf("adminOf(siteBlock) = %q, want none", got)
	}
	on := withAdmin(cf, "127.0.0.1:7777")
	if got := adminOf(on); got != "127.0.0.1:7777" || strings.Contains(on, "admin off") {
		t.Errorf("withAdmin: adminOf = %q in\n%s", got, on)
	}
}

// TestStartRedisStops: the harness's redis-server answers, and is gone
// after stop.
func TestStartRedisStops(t *testing.T) {
	rs, err := startRedis(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	rs.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("redis-server still answers after stop")
	}
	rs.Kill() // twice is fine
}

// testDatabase is a fresh database of the harness's (createDatabase),
// dropped when the test ends.
func testDatabase(t *testing.T) *database {
	t.Helper()
	db, err := createDatabase(t.Context(), testenv.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.drop(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// testRedis is the harness's own redis-server (startRedis) with files in
// dir, and a client of it; both end with the test.
func testRedis(t *testing.T, dir string) (*procs.RedisServer, redis.UniversalClient) {
	t.Helper()
	rs, err := startRedis(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Kill)
	rdb := newRedis(rs.Addr)
	t.Cleanup(func() { rdb.Close() })
	return rs, rdb
}

// testLinks makes n codes, seeds them as links in a fresh database
// (testDatabase) and writes them to the Redis of rdb under prefix, as the
// harness does for a size.
func testLinks(t *testing.T, rdb redis.UniversalClient, n int, links linkSet, prefix string) (*database, []string) {
	t.Helper()
	codes, err := makeCodes(n)
	if err != nil {
		t.Fatal(err)
	}
	db := testDatabase(t)
	db.links = links
	if _, err := db.seed(t.Context(), codes); err != nil {
		t.Fatal(err)
	}
	if _, err := prefillRedis(t.Context(), rdb, prefix, privateRedisTTL, links, codes, 4); err != nil {
		t.Fatal(err)
	}
	return db, codes
}
