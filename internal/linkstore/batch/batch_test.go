package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// counting wraps a real store and counts the inserts it is asked for.
type counting struct {
	linkstore.Store
	calls, links atomic.Int64
}

func (c *counting) CreateMany(ctx context.Context, ls []linkstore.Link) []error {
	c.calls.Add(1)
	c.links.Add(int64(len(ls)))
	return c.Store.CreateMany(ctx, ls)
}

func stores(t *testing.T) map[string]linkstore.Store {
	sq := teststore.SQLite(t)
	pg := teststore.Postgres(t, testenv.Database(t))
	return map[string]linkstore.Store{"sqlite": sq, "postgres": pg}
}

func TestConcurrentCreatesAreGrouped(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := &counting{Store: s}
			b := New(c, Options{MaxBatch: 64, Workers: 2})
			defer b.Close()
			const n = 1000
			links := make([]linkstore.Link, n)
			for i := range links {
				links[i] = storetest.NewLink()
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range links {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = b.Create(context.Background(), links[i])
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("create %d: %v", i, err)
				}
			}
			for _, l := range links[:50] {
				got, err := s.Get(context.Background(), "", l.Code)
				if err != nil {
					t.Fatalf("get %s: %v", l.Code, err)
				}
				storetest.CheckLink(t, "after batch", got, l)
			}
			if c.links.Load() != n {
				t.Fatalf("the store got %d links, want %d", c.links.Load(), n)
			}
			if c.calls.Load() >= n {
				t.Fatalf("%d creates took %d inserts: nothing was grouped", n, c.calls.Load())
			}
			t.Logf("%d concurrent creates in %d inserts", n, c.calls.Load())
		})
	}
}

func TestPerLinkResults(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			b := New(s, Options{})
			defer b.Close()
			l := storetest.NewLink()
			if err := b.Create(context.Background(), l); err != nil {
				t.Fatal(err)
			}
			dup := storetest.NewLink()
			dup.Code = l.Code
			if err := b.Create(context.Background(), dup); !errors.Is(err, linkstore.ErrCodeTaken) {
				t.Fatalf("duplicate code: %v, want ErrCodeTaken", err)
			}
			got, err := s.Get(context.Background(), "", l.Code)
			if err != nil || got.URL != l.URL {
				t.Fatalf("the first link changed: %+v, %v", got, err)
			}
		})
	}
}

// TestClose: creates racing with Close either succeed (and are stored) or
// get ErrClosed (and are not); none hangs or is lost.
func TestClose(t *testing.T) {
	s := stores(t)["sqlite"]
	c := &counting{Store: s}
	b := New(c, Options{Workers: 1, MaxBatch: 8})
	links := make([]linkstore.Link, 200)
	errs := make([]error, len(links))
	var wg sync.WaitGroup
	for i := range links {
		links[i] = storetest.NewLink()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Create(context.Background(), links[i])
		}()
	}
	// Close while creates are under way: after the first insert began.
	deadline := time.Now().Add(10 * time.Second)
	for c.calls.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	b.Close()
	wg.Wait()
	b.Close() // idempotent
	var stored int
	for i, err := range errs {
		_, getErr := s.Get(context.Background(), "", links[i].Code)
		switch {
		case err == nil && getErr == nil:
			stored++
		case errors.Is(err, ErrClosed) && errors.Is(getErr, linkstore.ErrNotFound):
		default:
			t.Fatalf("create %d: %v, then get: %v", i, err, getErr)
		}
	}
	if stored == 0 {
		t.Fatal("no create made it, though an insert had begun before Close")
	}
	t.Logf("%d of %d creates made it before Close", stored, len(links))
	if err := b.Create(context.Background(), storetest.NewLink()); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after Close: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := stores(t)["sqlite"]
	b := New(s, Options{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Create(ctx, storetest.NewLink()); !errors.Is(err, context.Canceled) {
		t.Fatalf("create with a cancelled context: %v", err)
	}
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	s := teststore.Postgres(b, testenv.Database(b))
	bt := New(s, Options{})
	defer bt.Close()
	var seq atomic.Int64
	prefix := fmt.Sprintf("bb%d", time.Now().UnixNano()%1e6)
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l := storetest.NewLink()
			l.Code = fmt.Sprintf("%s-%d", prefix, seq.Add(1))
			if err := bt.Create(ctx, l); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
