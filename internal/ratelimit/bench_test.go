package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// benchLimit allows nearly everything, so that the benchmarks measure the
// allowed path, which writes (the refused one only reads).
var benchLimit = Limit{Rate: 1e6, Burst: 1_000_000}

// benchKeys are 4096 client-like keys.
var benchKeys = func() []string {
	k := make([]string, 4096)
	for i := range k {
		k[i] = "198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	return k
}()

func newBenchLocal(b *testing.B) *Local {
	lim, err := NewLocal(benchLimit, LocalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lim.Close)
	for _, k := range benchKeys {
		lim.Allow(context.Background(), k)
	}
	return lim
}

// BenchmarkLocalAllow: one goroutine, known keys.
func BenchmarkLocalAllow(b *testing.B) {
	lim := newBenchLocal(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lim.Allow(ctx, benchKeys[i&4095])
		i++
	}
}

// BenchmarkLocalAllowParallel: every P on its own stream of known keys.
func BenchmarkLocalAllowParallel(b *testing.B) {
	lim := newBenchLocal(b)
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := int(seed.Add(1000))
		for pb.Next() {
			lim.Allow(ctx, benchKeys[i&4095])
			i++
		}
	})
}

// BenchmarkLocalAllowParallelOneKey: every P on the same key, the worst
// case for the CAS.
func BenchmarkLocalAllowParallelOneKey(b *testing.B) {
	lim := newBenchLocal(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			lim.Allow(ctx, benchKeys[0])
		}
	})
}

// BenchmarkLocalAllowNewKeys: a new key on every call, into a full cache
// (the cost of a flood of new clients, eviction included).
func BenchmarkLocalAllowNewKeys(b *testing.B) {
	lim, err := NewLocal(benchLimit, LocalOptions{MaxKeys: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lim.Close)
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "client:" + strconv.Itoa(i)
	}
	ctx := context.Background()
	for i := range 200_000 {
		lim.Allow(ctx, keys[i])
	}
	b.ReportAllocs()
	i := 200_000
	for b.Loop() {
		lim.Allow(ctx, keys[i&(1<<20-1)])
		i++
	}
}

func newBenchRedis(b *testing.B) *Redis {
	lim, err := NewRedis(redisClient(b), benchLimit, RedisOptions{Prefix: testenv.UniquePrefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	return lim
}

// BenchmarkRedisAllow: one goroutine, one round trip per call.
func BenchmarkRedisAllow(b *testing.B) {
	lim := newBenchRedis(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := lim.Allow(ctx, benchKeys[i&4095]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRedisAllowParallel: 16 goroutines per P sharing the client's
// pool, as concurrent requests would.
func BenchmarkRedisAllowParallel(b *testing.B) {
	lim := newBenchRedis(b)
	var seed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := int(seed.Add(100))
		for pb.Next() {
			if _, err := lim.Allow(ctx, benchKeys[i&4095]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkLocalAllowCoarseClock: as BenchmarkLocalAllow, with a clock
// that is read from a variable (otter.CoarseClock, 1 ms resolution).
func BenchmarkLocalAllowCoarseClock(b *testing.B) {
	clock := otter.NewCoarseClock(time.Millisecond)
	b.Cleanup(clock.Stop)
	lim, err := NewLocal(benchLimit, LocalOptions{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lim.Close)
	ctx := context.Background()
	for _, k := range benchKeys {
		lim.Allow(ctx, k)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lim.Allow(ctx, benchKeys[i&4095])
		i++
	}
}
