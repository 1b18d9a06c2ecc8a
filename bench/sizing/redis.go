package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/splitmix"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// measureRedis starts a Redis server of its own, writes links as the
// control plane writes them (l2cache's Set: the product's key and value,
// with the TTL), prints the memory per link, then reads random links as the
// edges do and prints the server's CPU per GET.
func measureRedis(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "shortify-sizing-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := procs.FreeRedisPort()
	if err != nil {
		return err
	}
	srv, err := procs.StartRedis(ctx, dir, port, false)
	if err != nil {
		return err
	}
	defer srv.Stop()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 16})
	defer client.Close()
	cache := l2cache.New(client, l2cache.DefaultPrefix, 24*time.Hour)

	before, err := usedMemory(ctx, client)
	if err != nil {
		return err
	}
	const workers = 8
	err = parallel(workers, o.redis, func(i int) error {
		return cache.Set(ctx, linkstore.Link{ID: int64(1)<<40 + int64(i), Code: codeOf(i), URL: targetURL(i), WorkspaceID: 1})
	})
	if err != nil {
		return err
	}
	after, err := usedMemory(ctx, client)
	if err != nil {
		return err
	}
	sample, err := client.MemoryUsage(ctx, cache.Key("", codeOf(0))).Result()
	if err != nil {
		return err
	}
	value, err := client.StrLen(ctx, cache.Key("", codeOf(0))).Result()
	if err != nil {
		return err
	}
	fmt.Printf("redis: %d links with 100-byte URLs: %.0f B a link of used_memory (MEMORY USAGE of one key: %d B; key %d B, value %d B)\n",
		o.redis, float64(after-before)/float64(o.redis), sample, len(cache.Key("", codeOf(0))), value)

	cpu0, err := procs.CPUTime(srv.Pid())
	if err != nil {
		return err
	}
	begin := time.Now()
	err = parallel(workers*4, o.gets, func(i int) error {
		_, ok, err := cache.Get(ctx, "", codeOf(int(splitmix.Mix(uint64(i))%uint64(o.redis))))
		if err == nil && !ok {
			err = fmt.Errorf("link %d missing", i)
		}
		return err
	})
	if err != nil {
		return err
	}
	took := time.Since(begin)
	cpu1, err := procs.CPUTime(srv.Pid())
	if err != nil {
		return err
	}
	fmt.Printf("redis: %d GETs (32 clients, one GET a round trip) in %s: %.1f µs of Redis CPU a GET, %.0f GETs/s\n",
		o.gets, took.Round(time.Millisecond), float64((cpu1-cpu0).Nanoseconds())/1e3/float64(o.gets), float64(o.gets)/took.Seconds())

	// Concurrent misses sharing round trips: pipelines of 16 GETs
	// (GetMany), what an edge that batches its L1 misses sends.
	const perPipeline = 16
	begin = time.Now()
	err = parallel(workers, o.gets/perPipeline, func(i int) error {
		keys := make([]linkstore.Key, perPipeline)
		for j := range keys {
			keys[j] = linkstore.Key{Code: codeOf(int(splitmix.Mix(uint64(i*perPipeline+j)) % uint64(o.redis)))}
		}
		found, err := cache.GetMany(ctx, keys)
		for _, f := range found {
			if !f.OK {
				return fmt.Errorf("link %s missing", f.Link.Code)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	took = time.Since(begin)
	cpu2, err := procs.CPUTime(srv.Pid())
	if err != nil {
		return err
	}
	n := o.gets / perPipeline * perPipeline
	fmt.Printf("redis: %d GETs in pipelines of %d (8 clients) in %s: %.1f µs of Redis CPU a GET, %.0f GETs/s\n",
		n, perPipeline, took.Round(time.Millisecond), float64((cpu2-cpu1).Nanoseconds())/1e3/float64(n), float64(n)/took.Seconds())
	return nil
}

// usedMemory is INFO memory's used_memory.
func usedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory without used_memory")
}

// parallel calls fn(i) for i in [0, n) on workers goroutines and returns
// the first error.
func parallel(workers, n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
