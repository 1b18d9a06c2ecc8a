package linkseed

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
)

// The Redis side of a seed: what a day of traffic leaves there. FillL2
// writes the links into the L2 as the control plane's write-through does;
// WriteHotList ranks them in the hot list the edges publish, so that an
// edge's warm start (caddymodule/warm.go) loads the hottest into its L1.

// FillL2 writes links 0 to n-1 of src into the L2 (l2cache.Set, the
// control plane's write on create) from conc connections at once, and
// returns how long it took.
func FillL2(ctx context.Context, l2 *l2cache.Cache, n int, src Source, conc int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	begin := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				l, err := src(i)
				if err == nil {
					err = l2.Set(ctx, l)
				}
				if err != nil {
					cancel(fmt.Errorf("link %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, fmt.Errorf("fill the L2: %w", err)
	}
	return time.Since(begin), nil
}

// HotListKey is the key of the hot list's sorted set for the minute of
// now, as the edges publish it (docs/decisions/0007-edge-warm-start.md:
// `<redis_prefix>hot:<unix minute>`); a warm start reads that minute's
// set and the one before.
func HotListKey(prefix string, now time.Time) string {
	return prefix + "hot:" + strconv.FormatInt(now.Unix()/60, 10)
}

// HotMember is a link's member of the hot list: its L1 key, the code for
// the own host, `domain/code` for a custom domain.
func HotMember(domain, code string) string {
	if domain == "" {
		return code
	}
	return domain + "/" + code
}

// hotListBatch is how many members one ZADD writes.
const hotListBatch = 10_000

// WriteHotList writes links 0 to n-1 of src as the members of the hot
// list of the minute of now, link 0 the hottest (scores n down to 1), in
// ZADDs of hotListBatch, and lets the set expire after ttl. It returns
// how long it took.
func WriteHotList(ctx context.Context, rdb redis.UniversalClient, prefix string, ttl time.Duration, n int, src Source, now time.Time) (time.Duration, error) {
	begin := time.Now()
	key := HotListKey(prefix, now)
	for lo := 0; lo < n; lo += hotListBatch {
		hi := min(lo+hotListBatch, n)
		members := make([]redis.Z, 0, hi-lo)
		for i := lo; i < hi; i++ {
			l, err := src(i)
			if err != nil {
				return 0, fmt.Errorf("write the hot list: link %d: %w", i, err)
			}
			members = append(members, redis.Z{Score: float64(n - i), Member: HotMember(l.Domain, l.Code)})
		}
		if err := rdb.ZAdd(ctx, key, members...).Err(); err != nil {
			return 0, fmt.Errorf("write the hot list (%s): %w", key, err)
		}
	}
	if err := rdb.Expire(ctx, key, ttl).Err(); err != nil {
		return 0, fmt.Errorf("write the hot list (%s): %w", key, err)
	}
	return time.Since(begin), nil
}
