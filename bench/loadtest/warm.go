package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/caddymodule"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/linkseed"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/stack"
)

// How the caches start (-start):
//
//   - startWarm: as a day of traffic leaves them. Every seeded link is in
//     the Redis L2 (its entries live redis_ttl, 24 hours: at the plan's
//     rate a day's redirects touch nearly every link), and each edge's L1
//     holds the hottest cache_size links, loaded by the edge's own warm
//     start from a hot list of the Zipf ranks. Hit rates are then the
//     steady state's rather than a cold start's, which a machine that
//     answers ~1,500 requests/s would need hours of load to reach.
//   - startCold: empty caches, a deploy of a whole new fleet: the L2 and
//     the L1s fill on misses during the run.
const (
	startWarm = "warm"
	startCold = "cold"
)

const (
	// edgeWarmTimeout is the edges' warm_timeout with -start warm
	// (SHORTIFY_WARM_TIMEOUT): a million links from Redis take seconds on
	// a quiet machine, this bounds a busy one.
	edgeWarmTimeout = 5 * time.Minute
	// fillConns is how many connections fill the L2 at once.
	fillConns = 64
	// hotListTTL is how long the hot list the load test writes lives, as
	// the edges' own (three one-minute sets).
	hotListTTL = 3 * time.Minute
)

// warmEnv is the stack's environment for a start: the edges' warm start
// loads as many codes as their L1 holds.
func warmEnv(start string) []string {
	if start != startWarm {
		return nil
	}
	return []string{
		"SHORTIFY_WARM_COUNT=" + strconv.Itoa(caddymodule.DefaultCacheSize),
		"SHORTIFY_WARM_TIMEOUT=" + edgeWarmTimeout.String(),
	}
}

// primeCaches fills the stack's caches for -start warm: every link of the
// seed into the L2, the hottest caddymodule.DefaultCacheSize ranks into a
// hot list, then restarts each edge (one at a time, the front door keeping
// the other) so that its warm start loads them. It returns the report's
// line about it.
func primeCaches(ctx context.Context, s *stack.Stack, caddyfiles string, c *codes, base time.Time) (string, error) {
	rdb, err := l2cache.NewClientWith(s.Redis.Seeds(), l2cache.CounterTimeouts)
	if err != nil {
		return "", err
	}
	defer rdb.Close()
	src := func(i int) (linkstore.Link, error) { return seededLink(i, c.At(i), base), nil }
	n := c.Len()
	log.Printf("loadtest: writing the %d links to the Redis L2", n)
	l2 := l2cache.New(rdb, caddymodule.DefaultRedisPrefix, caddymodule.DefaultRedisTTL)
	fillTook, err := linkseed.FillL2(ctx, l2, n, src, fillConns)
	if err != nil {
		return "", err
	}
	log.Printf("loadtest: the L2 holds the %d links after %v (%.0f links/s)", n, fillTook.Round(time.Millisecond), float64(n)/fillTook.Seconds())

	// The hot list of this minute and the next: a warm start reads its
	// minute's set and the one before, so the restarts below may run into
	// the next minute.
	hot := min(caddymodule.DefaultCacheSize, n)
	now := time.Now()
	for _, t := range []time.Time{now, now.Add(time.Minute)} {
		if _, err := linkseed.WriteHotList(ctx, rdb, caddymodule.DefaultRedisPrefix, hotListTTL, hot, src, t); err != nil {
			return "", err
		}
	}
	var edges []string
	for _, e := range s.Edges {
		log.Printf("loadtest: restarting %s for its warm start", e.Name)
		w, err := restartWarm(ctx, s, e, caddyfiles)
		if err != nil {
			return "", err
		}
		if w.l2+w.store < float64(hot) {
			return "", fmt.Errorf("%s: its warm start loaded %.0f links (%.0f from Redis, %.0f from the database), want %d", e.Name, w.l2+w.store, w.l2, w.store, hot)
		}
		edges = append(edges, fmt.Sprintf("%s %.0f from Redis and %.0f from the database in %.1f s", e.Name, w.l2, w.store, w.seconds))
	}
	return fmt.Sprintf("Start: warm. The L2 held all %d links (written in %v) and each edge's L1 the %d hottest, loaded by its warm start before it was ready (%s).",
		n, fillTook.Round(time.Second), hot, strings.Join(edges, "; ")), nil
}

// restartWarm restarts edge e, waits until its warm start is over and the
// front door has checked it again, and returns what the warm start loaded.
func restartWarm(ctx context.Context, s *stack.Stack, e *stack.Node, caddyfiles string) (warmed, error) {
	ctx, cancel := context.WithTimeout(ctx, edgeWarmTimeout+2*time.Minute)
	defer cancel()
	if err := s.Replace(ctx, e, e.Binary(), caddyfiles); err != nil {
		return warmed{}, err
	}
	w, err := waitWarm(ctx, e)
	if err != nil {
		return warmed{}, err
	}
	if err := s.FrontDoorChecked(ctx, e); err != nil {
		return warmed{}, fmt.Errorf("%s: back in the front door's rotation: %w", e.Name, err)
	}
	return w, nil
}

// warmed is an edge's account of its last warm start.
type warmed struct{ l2, store, seconds float64 }

// waitWarm polls edge e's readiness until it answers 200 (its warm start
// is over) and returns what the warm start loaded, from its metrics.
func waitWarm(ctx context.Context, e *stack.Node) (warmed, error) {
	if err := e.WaitReady(ctx); err != nil {
		return warmed{}, fmt.Errorf("%s: not ready after its warm start: %w", e.Name, err)
	}
	page, err := promtest.Get(ctx, nil, e.Ops+"/metrics", "shortify_edge_warm_")
	if err != nil {
		return warmed{}, err
	}
	v, err := page.Values(`shortify_edge_warm_entries_total{source="l2"}`, `shortify_edge_warm_entries_total{source="store"}`, "shortify_edge_warm_duration_seconds")
	if err != nil {
		return warmed{}, fmt.Errorf("%s: %w", e.Name, err)
	}
	return warmed{v[0], v[1], v[2]}, nil
}
