package main

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/shortify/shortify/internal/testkit/linkseed"
)

// startAndGet starts A and fills its L1 with one GET of every code
// (-fill http). It returns A (also with an error, for the caller to stop)
// and its heap goal before the fill, after a full collection.
func (b *bench) startAndGet(ctx context.Context, name string, opts shortifyOptions, links linkSet, codes []string, smart bool) (*instance, float64, error) {
	n := len(codes)
	a, err := b.start(ctx, name, withMetrics(opts.body()))
	if err != nil {
		return nil, 0, err
	}
	if err := preflight(ctx, a.addr, links, codes); err != nil {
		return a, 0, fmt.Errorf("%s: %w", a.name, err)
	}
	goalBefore, err := liveHeap(ctx, a)
	if err != nil {
		return a, 0, err
	}
	took, tally, err := warm(ctx, a.addr, links, codes, warmConns)
	if err != nil {
		return a, 0, err
	}
	want := "302 to the link's URL"
	if smart {
		want = "302 to one of the link's rules' or variants' URLs"
	}
	fmt.Printf("  warmed A's L1 (from Redis) with one GET of each of the %d codes, with its link's Host, in %s (%.0f req/s, every answer checked: %s)\n",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), want)
	if smart {
		fmt.Println("  " + tallyLine(links.choiceNames(), tally))
	}
	return a, goalBefore, nil
}

// startWarm fills A's L1 through the edge's own warm start (-fill
// start): it reads the heap of a twin of A whose hot list is empty (the
// baseline of the memory line: A's own heap before its warm start cannot
// be read, the warm start runs at its provisioning), writes every code
// to the hot list, starts A with warm_count n, waits until A is ready
// and checks that a sample of codes are L1 hits with the right answers.
// It returns A (also with an error, for the caller to stop) and the
// baseline heap goal.
func (b *bench) startWarm(ctx context.Context, name string, opts shortifyOptions, links linkSet, codes []string) (*instance, float64, error) {
	n := len(codes)
	opts.redis = warmStartRedis(b.cfg.redis)
	opts.warmCount, opts.warmTimeout = n, warmStartTimeout
	twinOpts := opts
	twinOpts.redisPrefix = opts.redisPrefix + "twin:" // no hot list there
	twin, err := b.start(ctx, name+"-twin", withMetrics(twinOpts.body()))
	if err != nil {
		return nil, 0, err
	}
	_, err = waitWarmStart(ctx, twin, 0)
	var goalBefore float64
	if err == nil {
		goalBefore, err = liveHeap(ctx, twin)
	}
	twin.stop()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", twin.name, err)
	}

	took, err := linkseed.WriteHotList(ctx, b.rdb, opts.redisPrefix, cmp.Or(opts.ttl, redisTTL), n, links.source(codes), time.Now())
	if err != nil {
		return nil, 0, err
	}
	fmt.Printf("  wrote the %d codes to the hot list in %s (one sorted set, the first code the hottest)\n", n, took.Round(time.Millisecond))
	begin := time.Now()
	a, err := b.start(ctx, name, withMetrics(opts.body()))
	if err != nil {
		return nil, 0, err
	}
	edgeTook, err := waitWarmStart(ctx, a, n)
	if err != nil {
		return a, 0, err
	}
	took = time.Since(begin)
	sampled, err := checkHits(ctx, a, links, codes, 10_000)
	if err != nil {
		return a, 0, err
	}
	fmt.Printf("  warmed A's L1 (from Redis) by its warm start, warm_count %d: ready %s after its start (the edge's warm_duration_seconds: %s; %.0f links/s); %d sampled codes all L1 hits with the right answer\n",
		n, took.Round(time.Millisecond), edgeTook.Round(time.Millisecond), float64(n)/edgeTook.Seconds(), sampled)
	if err := preflight(ctx, a.addr, links, codes); err != nil {
		return a, 0, fmt.Errorf("%s: %w", a.name, err)
	}
	return a, goalBefore, nil
}
