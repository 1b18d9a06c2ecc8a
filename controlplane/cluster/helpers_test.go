package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
)

// fakeClock is a settable clock for leases and Snowflake IDs.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testLogger logs warnings and errors to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig is a one-node cluster in a temporary directory on a free port.
func testConfig(t testing.TB) Config {
	return Config{
		NodeID:    "n1",
		DataDir:   t.TempDir(),
		BindAddr:  "127.0.0.1:0",
		Bootstrap: true,
		Logger:    testLogger(t),
	}
}

// open starts a node and closes it when the test ends.
func open(t testing.TB, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// reopenConfig is cfg for the same node on the address it had.
func reopenConfig(cfg Config, n *Node) Config {
	cfg.BindAddr = n.State().Address
	cfg.AdvertiseAddr = ""
	return cfg
}

// clockedConfig is testConfig on clock, with leases of 30 seconds, for
// tests that move time past a lease.
func clockedConfig(t testing.TB, clock *fakeClock) Config {
	cfg := testConfig(t)
	cfg.Clock = clock.Now
	cfg.LeaseTTL = 30 * time.Second
	return cfg
}

// issueAfter issues 5000 IDs of n, each after the one before and the first
// after floor, shows each to check (if not nil) and returns the last.
func issueAfter(t testing.TB, n *Node, floor int64, check func(id int64)) int64 {
	t.Helper()
	last := floor
	for range 5000 {
		id := mustID(t, n)
		if id <= last {
			t.Fatalf("ID %d after %d (the IDs began after %d)", id, last, floor)
		}
		if check != nil {
			check(id)
		}
		last = id
	}
	return last
}

// must returns what fn returns, failing the test (with what, the name of
// the call) on an error.
func must[T any](t testing.TB, what string, fn func() (T, error)) T {
	t.Helper()
	v, err := fn()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func mustID(t testing.TB, n *Node) int64 { t.Helper(); return must(t, "NewID", n.NewID) }

func mustCode(t testing.TB, n *Node) string { t.Helper(); return must(t, "NextCode", n.NextCode) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		runtime.Gosched()
		<-time.After(time.Millisecond)
	}
}

// fillWorkers leases every free worker ID to other nodes for a day, as the
// FSM's clock goes, with many proposals in flight at once (so that raft
// commits them in batches).
func fillWorkers(t testing.TB, n *Node) {
	t.Helper()
	now := n.nowMs()
	var wg sync.WaitGroup
	errs := make(chan error, fsm.NumWorkers)
	for i := range fsm.NumWorkers {
		wg.Go(func() {
			_, err := n.propose(context.Background(), fsm.AcquireLease{Node: fmt.Sprintf("filler-%d", i), NowMs: now, TTLMs: fsm.MaxTTLMs})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("fill workers: %v", err)
		}
	}
	for id := range uint16(fsm.NumWorkers) {
		w, err := n.fsm.Worker(id)
		if err != nil || !w.Held {
			t.Fatalf("worker %d not filled: %+v %v", id, w, err)
		}
	}
}

// releaseFiller frees one worker ID held by a filler.
func releaseFiller(t testing.TB, n *Node, id uint16) {
	t.Helper()
	w, err := n.fsm.Worker(id)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := n.propose(context.Background(), fsm.ReleaseLease{Node: w.Holder, Worker: id, Gen: w.Gen})
	if err != nil || resp.(*fsm.LeaseResult).Err != nil {
		t.Fatalf("release worker %d: %v %+v", id, err, resp)
	}
}

// goroutines counts goroutines and returns a dump of their stacks.
func goroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("goroutine ")), string(buf)
}

// assertDistinct fails the test on the first value of vals seen twice;
// what names the values in the message.
func assertDistinct[T comparable](t *testing.T, what string, vals []T) {
	t.Helper()
	seen := make(map[T]struct{}, len(vals))
	for _, v := range vals {
		if _, dup := seen[v]; dup {
			t.Fatalf("%s %v issued twice", what, v)
		}
		seen[v] = struct{}{}
	}
}

// collect runs fn from workers goroutines, count times in all, and
// returns the results.
func collect[T any](t *testing.T, workers, count int, fn func() (T, error)) []T {
	t.Helper()
	out := make([]T, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				v, err := fn()
				if err != nil {
					errs <- err
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}
