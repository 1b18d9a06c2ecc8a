package caddymodule

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestStalledRedisLeavesTheStoreTime stops every node of a real Redis
// Cluster (SIGSTOP: they take connections and never answer, as a dead
// master does until its replica takes over; the cluster client then
// tries other nodes with back-off). A miss and an L1 hit must still be
// answered, each Redis call of theirs bounded by redisWait, so that the
// store answers within lookupTimeout. (This bounds the behaviour; it
// does not reproduce the stall of docs/faults.md, fault 4, where dials
// to the dead master also timed out under load: the edge built before
// redisWait passes it too. Fault 4 is the evidence.)
func TestStalledRedisLeavesTheStoreTime(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cluster, err := procs.StartRedisCluster(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	dsn := sqliteDSN(t)
	miss, hit := newCode(t, "stallmiss"), newCode(t, "stallhit")
	create(t, seeder(t, dsn),
		linkstore.Link{Code: miss, URL: "https://example.com/stall/miss"},
		linkstore.Link{Code: hit, URL: "https://example.com/stall/hit"})
	h := provision(t, &Handler{Database: dsn, Redis: cluster.Seeds(),
		RateLimit: &RateLimit{Requests: 1000, Window: caddy.Duration(time.Second), Shared: true}})
	// The hit's code in the L1 while Redis still answers.
	if w, _ := serve(h, "GET", "/"+hit, nil); w.Code != 302 {
		t.Fatalf("GET /%s: %d", hit, w.Code)
	}

	for _, srv := range cluster.Servers {
		if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(srv.Pid(), syscall.SIGCONT) })
	}
	for _, tc := range []struct {
		code string
		max  time.Duration // the Redis calls it may wait on, plus slack for a busy machine
	}{
		{hit, redisWait + time.Second},    // no Redis call: the shared rate limit syncs in the background
		{miss, 3*redisWait + time.Second}, // the L2 read and fill
	} {
		start := time.Now()
		w, _ := serve(h, "GET", "/"+tc.code, nil)
		took := time.Since(start)
		if w.Code != 302 {
			t.Errorf("GET /%s with Redis stalled: %d after %v, want 302", tc.code, w.Code, took)
		}
		if took > tc.max {
			t.Errorf("GET /%s with Redis stalled took %v, want ≤ %v", tc.code, took, tc.max)
		}
	}
	if h.stats.l2Errors.Load() == 0 {
		t.Errorf("no L2 errors: Redis was not in the way")
	}
	// The shared limit's sync of the two requests times out after
	// redisWait, in the background: their counts are lost.
	testenv.WaitFor(t, "the shared rate limit's failed sync", 10*time.Second, func() bool { return h.stats.rateLimitErrors.Load() > 0 })
}
