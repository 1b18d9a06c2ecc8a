package l2cache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// pipelineCounter is a go-redis hook that counts single commands and
// pipelines: the round trips. With gate set, each round trip waits until
// the gate is closed, so that Gets queue behind the first ones however the
// goroutines are scheduled.
type pipelineCounter struct {
	single, pipelines atomic.Int64
	gate              chan struct{}
}

func (h *pipelineCounter) wait() {
	if h.gate != nil {
		<-h.gate
	}
}

func (h *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.single.Add(1)
		h.wait()
		return next(ctx, cmd)
	}
}
func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.wait()
		return next(ctx, cmds)
	}
}

// TestConcurrentGetsSharePipelines: many Gets at once, of links on both
// hosts, absent keys, tombstones and a corrupt value, each get their own
// answer, in fewer round trips than Gets.
func TestConcurrentGetsSharePipelines(t *testing.T) {
	c, client := setup(t, time.Hour)
	ctx := t.Context()
	var links []linkstore.Link
	for i := range 40 {
		l := linkstore.Link{ID: int64(i + 1), Code: fmt.Sprintf("batch%02d", i), URL: fmt.Sprintf("https://example.com/%d", i)}
		if i%2 == 1 {
			l.Domain = "go.example"
		}
		if err := c.Set(ctx, l); err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	if err := c.Delete(ctx, "", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := client.Set(ctx, c.Key("", "corrupt"), []byte{0xff, 0x01}, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	// The first round trips wait until every Get has started: the rest
	// queue behind them (a fast machine could otherwise run each Get's
	// goroutine to its end before the next starts, and share nothing).
	hook := pipelineCounter{gate: make(chan struct{})}
	client.AddHook(&hook)
	var started atomic.Int64

	var wg sync.WaitGroup
	const rounds = 5
	for range rounds {
		for _, l := range links {
			wg.Go(func() {
				started.Add(1)
				got, ok, err := c.Get(ctx, l.Domain, l.Code)
				if err != nil || !ok || got.ID != l.ID || got.URL != l.URL || got.Domain != l.Domain || got.Code != l.Code {
					t.Errorf("Get(%q, %q) = %+v, %v, %v; want link %d", l.Domain, l.Code, got, ok, err, l.ID)
				}
			})
		}
		wg.Go(func() {
			started.Add(3)
			if _, ok, err := c.Get(ctx, "", "absent"); ok || err != nil {
				t.Errorf("absent key: %v, %v; want a miss", ok, err)
			}
			if _, ok, err := c.Get(ctx, "", "gone"); ok || err != nil {
				t.Errorf("tombstone: %v, %v; want a miss", ok, err)
			}
			if _, ok, err := c.Get(ctx, "other.example", "batch00"); ok || err != nil {
				t.Errorf("a code on another host: %v, %v; want a miss", ok, err)
			}
		})
		wg.Go(func() {
			started.Add(1)
			if _, _, err := c.Get(ctx, "", "corrupt"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("corrupt value: %v, want ErrCorrupt", err)
			}
		})
	}
	gets := int64(rounds * (len(links) + 4))
	testenv.WaitFor(t, "every Get started", 10*time.Second, func() bool { return started.Load() == gets })
	close(hook.gate)
	wg.Wait()
	trips := hook.single.Load() + hook.pipelines.Load()
	t.Logf("%d Gets in %d round trips (%d pipelines)", gets, trips, hook.pipelines.Load())
	if trips >= gets {
		t.Errorf("%d Gets took %d round trips: none shared one", gets, trips)
	}
}

// TestGetTimeoutFailsAlone: a Get whose context ends while Redis does not
// answer returns its context's error at once; it does not take the
// others' time. Redis here is a listener that accepts and never answers.
func TestGetTimeoutFailsAlone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		conns.Wait()
	})
	conns.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				<-done
				conn.Close()
			})
		}
	})
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ContextTimeoutEnabled: true, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { client.Close() })
	c := New(client, "t:", time.Hour)

	long, cancelLong := context.WithTimeout(t.Context(), time.Second)
	defer cancelLong()
	var wg sync.WaitGroup
	var longErr error
	wg.Go(func() { _, _, longErr = c.Get(long, "", "a") })
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, _, err = c.Get(short, "", "b")
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Fatalf("Get with 100ms against a silent Redis: %v after %v; want its deadline's error soon", err, took)
	}
	cancelLong()
	wg.Wait()
	if longErr == nil {
		t.Fatal("Get against a silent Redis succeeded")
	}
}
