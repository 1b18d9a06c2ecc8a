package l2cache

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/batcher"
	"github.com/shortify/shortify/internal/linkstore"
)

// BenchmarkConcurrentGets times 64 goroutines doing Gets of links on the
// test Redis, with Get's batching (getFlights pipelines of up to
// getBatchMax) and, in the same run, without (every Get its own GET, as
// before issue 19), and prints the ratio of their Gets per second and
// the load average.
func BenchmarkConcurrentGets(b *testing.B) {
	c, _ := setup(b, time.Hour)
	ctx := b.Context()
	const links = 1000
	for i := range links {
		if err := c.Set(ctx, linkstore.Link{ID: int64(i + 1), Code: fmt.Sprintf("bench%04d", i), URL: "https://example.com/x"}); err != nil {
			b.Fatal(err)
		}
	}
	alone := New(c.client, c.prefix, time.Hour)
	alone.gets = batcher.New(alone.getBatch, 1, 1<<20)
	run := func(c *Cache, n int) time.Duration {
		const workers = 64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					if _, ok, err := c.Get(ctx, "", fmt.Sprintf("bench%04d", i%links)); err != nil || !ok {
						b.Errorf("Get: %v, %v", ok, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var batched, single time.Duration
	for b.Loop() {
		single += run(alone, 2000)
		batched += run(c, 2000)
	}
	b.ReportMetric(float64(batched.Nanoseconds())/float64(2000*b.N), "ns/get")
	b.ReportMetric(float64(single.Nanoseconds())/float64(2000*b.N), "ns/get-alone")
	b.ReportMetric(float64(single)/float64(batched), "speedup")
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average %s", strings.Join(strings.Fields(string(la))[:3], " "))
	}
}
