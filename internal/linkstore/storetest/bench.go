package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// batchSizes are the batch sizes BenchCreateMany measures.
var batchSizes = []int{1, 16, 128, 512}

// benchLinks makes links as the control plane creates them: IDs that only
// grow (Snowflake), random codes, and targets spread over 64 hosts.
type benchLinks struct {
	next atomic.Int64
	now  time.Time
}

func newBenchLinks() *benchLinks {
	g := &benchLinks{now: time.Now().UTC().Truncate(time.Microsecond)}
	g.next.Store(time.Now().UnixNano()) // below idBase's ranges
	return g
}

func (g *benchLinks) link() linkstore.Link {
	id := g.next.Add(1)
	code := NewCode()
	return linkstore.Link{
		ID:        id,
		Code:      code,
		URL:       "https://h" + strconv.FormatInt(id%64, 10) + ".bench.example/" + code,
		CreatedAt: g.now,
	}
}

func (g *benchLinks) fill(links []linkstore.Link) {
	for i := range links {
		links[i] = g.link()
	}
}

// reportRate reports links stored per second of the benchmark's run.
func reportRate(b *testing.B, links int64) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(links)/s, "links/s")
	}
}

// BenchCreate measures Create, one link per call: from one goroutine
// ("serial", one round trip per link) and from 4 per GOMAXPROCS
// ("parallel", as concurrent API requests without batching).
func BenchCreate(b *testing.B, s linkstore.Store) {
	ctx := context.Background()
	gen := newBenchLinks()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			if err := s.Create(ctx, gen.link()); err != nil {
				b.Fatal(err)
			}
			n++
		}
		reportRate(b, n)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Create(ctx, gen.link()); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
		reportRate(b, n.Load())
	})
}

// BenchCreateMany measures CreateMany for each of batchSizes (1, 16, 128,
// 512): one batch per iteration, so ns/op is the latency of a batch and
// links/s the throughput of one caller; "parallel" runs 4 callers per
// GOMAXPROCS, as a batcher's workers do.
func BenchCreateMany(b *testing.B, s linkstore.Store) {
	ctx := context.Background()
	gen := newBenchLinks()
	for _, size := range batchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			links := make([]linkstore.Link, size)
			var n int64
			for b.Loop() {
				gen.fill(links)
				for i, err := range s.CreateMany(ctx, links) {
					if err != nil {
						b.Fatalf("link %d: %v", i, err)
					}
				}
				n += int64(size)
			}
			reportRate(b, n)
		})
	}
	for _, size := range []int{16, 128} {
		b.Run(fmt.Sprintf("size=%d/parallel", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				links := make([]linkstore.Link, size)
				for pb.Next() {
					gen.fill(links)
					for i, err := range s.CreateMany(ctx, links) {
						if err != nil {
							b.Errorf("link %d: %v", i, err)
							return
						}
					}
					n.Add(int64(size))
				}
			})
			reportRate(b, n.Load())
		})
	}
}

// BenchLookup measures Lookup of a stored code, of an unknown code, and of
// a stored code from parallel goroutines: the redirect path's L3.
func BenchLookup(b *testing.B, s linkstore.Store) {
	ctx := context.Background()
	l := NewLink()
	if err := s.Create(ctx, l); err != nil {
		b.Fatal(err)
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Lookup(ctx, "", l.Code); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		code := NewCode()
		for b.Loop() {
			if _, err := s.Lookup(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Lookup(ctx, "", l.Code); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
