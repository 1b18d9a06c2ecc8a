package caddymodule

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestRedisClusterL2 runs the L2 on a real Redis Cluster (three masters,
// three replicas): misses fill keys on every master, and another edge then
// answers every code from the cluster without the store.
func TestRedisClusterL2(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	dsn := sqliteDSN(t)
	const n = 60
	codes := make([]string, n)
	links := make([]linkstore.Link, n)
	for i := range codes {
		codes[i] = newCode(t, fmt.Sprintf("cl%d", i))
		links[i] = linkstore.Link{Code: codes[i], URL: fmt.Sprintf("https://example.com/cluster/%d", i), Status: 307}
	}
	create(t, seeder(t, dsn), links...)

	open1, count1 := counting()
	edge1 := provision(t, &Handler{Database: dsn, Redis: cluster.Seeds(), openStore: open1})
	for i, c := range codes {
		if w, _ := serve(edge1, "GET", "/"+c, nil); w.Code != 307 || w.Header().Get("Location") != links[i].URL {
			t.Fatalf("edge 1, %s: %d %q", c, w.Code, w.Header().Get("Location"))
		}
	}
	if lookups(count1) != n || edge1.stats.l2Misses.Load() != n || edge1.stats.l2Errors.Load() != 0 {
		t.Fatalf("edge 1: %d lookups, %d L2 misses, %d L2 errors; want %d, %d, 0",
			lookups(count1), edge1.stats.l2Misses.Load(), edge1.stats.l2Errors.Load(), n, n)
	}

	// The fills are in the cluster, spread over all three masters.
	ctx := context.Background()
	cl := cluster.Client(t)
	l2 := l2cache.New(cl, DefaultRedisPrefix, time.Hour)
	masters := make(map[string]int)
	for i, c := range codes {
		got, ok, err := l2.Get(ctx, "", c)
		if err != nil || !ok || got.URL != links[i].URL {
			t.Fatalf("cluster has %s as %+v %v %v", c, got, ok, err)
		}
		m, err := cl.MasterForKey(ctx, l2.Key("", c))
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr]++
	}
	if len(masters) != 3 {
		t.Fatalf("keys on %d masters (%v), want all 3", len(masters), masters)
	}

	// A second edge with a cold L1 answers everything from the cluster.
	open2, count2 := counting()
	edge2 := provision(t, &Handler{Database: dsn, Redis: cluster.Seeds(), openStore: open2, keySalt: "edge2"})
	for i, c := range codes {
		if w, _ := serve(edge2, "GET", "/"+c, nil); w.Code != 307 || w.Header().Get("Location") != links[i].URL {
			t.Fatalf("edge 2, %s: %d %q", c, w.Code, w.Header().Get("Location"))
		}
	}
	if lookups(count2) != 0 || edge2.stats.l2Hits.Load() != n {
		t.Fatalf("edge 2: %d lookups, %d L2 hits; want 0 and %d", lookups(count2), edge2.stats.l2Hits.Load(), n)
	}
}

// TestRedisStopped kills the Redis server under a running edge: codes in
// L1 keep answering without a lookup, the others from the database, and no
// client sees an error.
func TestRedisStopped(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	warm, cold := newCode(t, "warm"), newCode(t, "cold")
	dsn := seededDSN(t,
		linkstore.Link{Code: warm, URL: "https://example.com/warm"},
		linkstore.Link{Code: cold, URL: "https://example.com/cold"})
	open, count := counting()
	h := provision(t, &Handler{Database: dsn, Redis: srv.Addr, openStore: open})

	if w, _ := serve(h, "GET", "/"+warm, nil); w.Code != 302 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if n, err := rdb.Exists(context.Background(), h.l2.Key("", warm)).Result(); err != nil || n != 1 {
		t.Fatalf("the warm-up did not fill Redis: %d %v", n, err)
	}

	srv.Stop()
	for range 100 {
		if w, err := serve(h, "GET", "/"+warm, nil); err != nil || w.Code != 302 || w.Header().Get("Location") != "https://example.com/warm" {
			t.Fatalf("warm code with Redis down: %d %v", w.Code, err)
		}
	}
	if n := lookups(count); n != 1 {
		t.Fatalf("%d lookups; the warm code must come from L1", n)
	}
	for range 3 {
		if w, err := serve(h, "GET", "/"+cold, nil); err != nil || w.Code != 302 || w.Header().Get("Location") != "https://example.com/cold" {
			t.Fatalf("cold code with Redis down: %d %v", w.Code, err)
		}
	}
	if w, err := serve(h, "GET", "/"+newCode(t, "none"), nil); err != nil || w.Code != 404 {
		t.Fatalf("unknown code with Redis down: %d %v", w.Code, err)
	}
	if n := lookups(count); n != 3 {
		t.Fatalf("%d lookups, want 3 (warm-up, cold once, unknown)", n)
	}
	// Two reads failed (the cold code and the unknown one), and no fill was
	// attempted for a code the store did not have; the cold code's fill
	// failed too.
	if got := h.stats.l2Errors.Load(); got != 3 {
		t.Fatalf("%d L2 errors counted, want 3 (two reads, one fill)", got)
	}
	if got := h.stats.errors.Load(); got != 0 {
		t.Fatalf("%d requests answered with an error", got)
	}
}
