package caddymodule

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The hot list: which codes the edges serve most, kept in Redis, so that a
// new edge can fill its L1 with them before it takes traffic (warm.go;
// docs/decisions/0007-edge-warm-start.md).
//
// Every edge samples its redirects (one in hotSampleEvery, decided by a
// per-thread random number: no shared counter on the request path) into a
// bounded channel; a background loop counts the samples and, every
// warm_publish, adds its hottest hotPublishTop codes to the sorted set of
// the current minute (ZINCRBY), trims that set to its hottest
// hotListCap members and lets it expire after hotBuckets minutes. A
// reader merges the current and the previous minute.

const (
	// hotSampleEvery is how many redirects make one sample (a power of
	// two). At 5,000 redirects/s an edge samples ~80 a second, plenty to
	// rank the codes that matter; the cost on the request path is one
	// random number and, for a sampled request, a channel send that never
	// waits.
	hotSampleEvery = 64
	// hotQueue bounds the samples waiting for the counting loop; more are
	// dropped (a sample is a hint).
	hotQueue = 4096
	// hotTrackMax bounds the distinct codes one edge counts between two
	// publishes; a new code past it is not counted (the hot ones arrive
	// early and often).
	hotTrackMax = 50_000
	// hotPublishTop is how many codes one publish adds at most.
	hotPublishTop = 2_000
	// hotBucket is the span of one sorted set; hotBuckets is how many
	// such spans one lives (the current and the previous one are read).
	hotBucket  = time.Minute
	hotBuckets = 3
	// hotPublishTimeout bounds one publish.
	hotPublishTimeout = 5 * time.Second
)

// hotListCap is the most members one minute's sorted set keeps: a few
// times what a new edge reads, so that the merge of two minutes still
// ranks the top warm_count well.
func hotListCap(count int) int64 { return int64(max(4*count, 10_000)) }

// hotKeyPrefix is the prefix of the hot list's keys: the link prefix and
// "hot:", as the click counter's "clicks:" (smart.go): codes and host
// names hold no ':', so the hot list never meets an L2 entry.
func hotKeyPrefix(linkPrefix string) string { return linkPrefix + "hot:" }

// hotBucketKey is the key of the sorted set of the minute that holds t.
func hotBucketKey(prefix string, t time.Time) string {
	return prefix + strconv.FormatInt(t.Unix()/int64(hotBucket/time.Second), 10)
}

// hotSample is one sampled redirect: its L1 key's parts.
type hotSample struct{ domain, code string }

// hotTracker samples redirects and publishes the hottest codes to Redis.
// It is a pooled resource (one per Redis, prefix and period), so that it
// outlives config reloads that keep those; Destruct stops its loop.
type hotTracker struct {
	rdb      redis.UniversalClient
	prefix   string // hotKeyPrefix
	every    uint32 // a power of two: one sample in every
	interval time.Duration
	cap      int64 // hotListCap
	log      *zap.Logger
	now      func() time.Time

	ch     chan hotSample
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex // guards published
	published int64      // codes added to Redis, for tests and metrics
}

// newHotTracker starts a tracker's loop. every is rounded up to a power of
// two (1 samples every redirect, for tests).
func newHotTracker(rdb redis.UniversalClient, linkPrefix string, every int, interval time.Duration, cap int64, log *zap.Logger) *hotTracker {
	e := uint32(1)
	for e < uint32(max(every, 1)) {
		e <<= 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &hotTracker{
		rdb: rdb, prefix: hotKeyPrefix(linkPrefix), every: e, interval: interval, cap: cap, log: log, now: time.Now,
		ch: make(chan hotSample, hotQueue), cancel: cancel, done: make(chan struct{}),
	}
	go t.run(ctx)
	return t
}

// sample offers one redirect of code on domain to the tracker: the only
// part of warm start on the request path. It never waits.
func (t *hotTracker) sample(domain, code string) {
	if rand.Uint32()&(t.every-1) != 0 {
		return
	}
	select {
	case t.ch <- hotSample{domain, code}:
	default: // the loop is behind: a sample is a hint, drop it
	}
}

// run counts samples and publishes every interval until ctx ends.
func (t *hotTracker) run(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	counts := make(map[string]float64)
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-t.ch:
			key := l1Key(s.domain, s.code)
			if _, ok := counts[key]; ok || len(counts) < hotTrackMax {
				if !ok {
					key = hotClone(s.domain, key) // the sample aliases the request's path
				}
				counts[key]++
			}
		case <-tick.C:
			if len(counts) == 0 {
				continue
			}
			n, err := t.publish(ctx, counts)
			if err != nil && ctx.Err() == nil {
				t.log.Warn("publishing the hot list to Redis failed; the next publish tries again", zap.Error(err))
			}
			t.mu.Lock()
			t.published += int64(n)
			t.mu.Unlock()
			clear(counts)
		}
	}
}

// hotClone copies key unless l1Key built it anew (a custom domain's key
// is a new string already).
func hotClone(domain, key string) string {
	if domain != "" {
		return key
	}
	return strings.Clone(key)
}

// publish adds the hottest hotPublishTop of counts to the current
// minute's set in one pipeline, trims the set and renews its expiry.
func (t *hotTracker) publish(ctx context.Context, counts map[string]float64) (int, error) {
	top := topCounts(counts, hotPublishTop)
	ctx, cancel := context.WithTimeout(ctx, hotPublishTimeout)
	defer cancel()
	key := hotBucketKey(t.prefix, t.now())
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range top {
			p.ZIncrBy(ctx, key, c.n, c.key)
		}
		p.ZRemRangeByRank(ctx, key, 0, -t.cap-1) // keep the hottest cap
		p.Expire(ctx, key, hotBuckets*hotBucket)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("hot list: publish %d codes: %w", len(top), err)
	}
	return len(top), nil
}

// publishedCodes returns how many codes the tracker has published.
func (t *hotTracker) publishedCodes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.published
}

// Destruct stops the loop and waits for it.
func (t *hotTracker) Destruct() error {
	t.cancel()
	<-t.done
	return nil
}

// hotCount is a code's L1 key and its count.
type hotCount struct {
	key string
	n   float64
}

// topCounts returns up to n entries of counts, the largest first (ties by
// key, so the order is stable).
func topCounts(counts map[string]float64, n int) []hotCount {
	all := make([]hotCount, 0, len(counts))
	for k, v := range counts {
		all = append(all, hotCount{k, v})
	}
	slices.SortFunc(all, func(a, b hotCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.key, b.key))
	})
	return all[:min(n, len(all))]
}

// hotReadPage is how many members of each minute's set one read asks for:
// a page's reply stays a few hundred kilobytes, well within the L2
// client's read timeout (100 ms), however large warm_count is.
const hotReadPage = 10_000

// readHotList returns the L1 keys of the count hottest codes of the
// current and the previous minute (their scores added), hottest first. It
// reads each set in pages of hotReadPage, both sets in one pipeline a
// page, until count members of each are read or the sets end.
func readHotList(ctx context.Context, rdb redis.UniversalClient, linkPrefix string, count int, now time.Time) ([]string, error) {
	prefix := hotKeyPrefix(linkPrefix)
	open := []string{hotBucketKey(prefix, now), hotBucketKey(prefix, now.Add(-hotBucket))} // the sets not read to their end
	counts := make(map[string]float64)
	for lo := 0; lo < count && len(open) > 0; lo += hotReadPage {
		hi := min(lo+hotReadPage, count)
		cmds := make([]*redis.ZSliceCmd, len(open))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range open {
				cmds[i] = p.ZRevRangeWithScores(ctx, k, int64(lo), int64(hi)-1)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("hot list: read members %d to %d: %w", lo, hi, err)
		}
		more := open[:0]
		for i, c := range cmds {
			for _, z := range c.Val() {
				if m, ok := z.Member.(string); ok {
					counts[m] += z.Score
				}
			}
			if len(c.Val()) == hi-lo {
				more = append(more, open[i])
			}
		}
		open = more
	}
	top := topCounts(counts, count)
	out := make([]string, len(top))
	for i, c := range top {
		out[i] = c.key
	}
	return out, nil
}
