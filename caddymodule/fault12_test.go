package caddymodule

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The warm-start fault (issue 18, "Warm start"; docs/faults.md, 12): a new
// edge joins a fleet under a Zipf-like load, once without warm start and
// once with it, and the test counts the database lookups the new edge
// makes in its first window of traffic. TestFault12WarmStart runs it with
// a 10 s window in `make test` (fault12_quick_test.go) and with the
// minute in `make faults` (fault12_minute_test.go).

const (
	f12Links     = 10_000 // links in the database
	f12Zipf      = 1.1    // the Zipf exponent of the codes' popularity
	f12Rate      = 300    // redirects/s at the new edge
	f12History   = 10     // the fleet's history, in windows' worth of requests
	f12WarmCount = 5_000  // warm_count
)

// warmStartFault runs the fault with a window of traffic of the given
// length and records its figure.
func warmStartFault(t *testing.T, window time.Duration) {
	dsn := postgresDSN(t)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	ctx := context.Background()

	links := make([]linkstore.Link, f12Links)
	tag := newCode(t, "f12")
	for i := range links {
		links[i] = linkstore.Link{Code: fmt.Sprintf("%s-%05d", tag, i), URL: fmt.Sprintf("https://example.com/f12/%d", i)}
	}
	createLinks(t, seeder(t, dsn), links)

	// One seeded Zipf stream: the fleet's history first, then the window
	// that both new edges replay, so that they see the same requests.
	z := rand.NewZipf(rand.New(rand.NewPCG(12, 18)), f12Zipf, 1, f12Links-1)
	perWindow := f12Rate * int(window/time.Second)
	history := make([]int, f12History*perWindow)
	for i := range history {
		history[i] = int(z.Uint64())
	}
	seq := make([]int, perWindow)
	for i := range seq {
		seq[i] = int(z.Uint64())
	}

	// The fleet: one edge that has served the history, sampling every
	// redirect into the hot list (production samples one in 64 of many
	// edges' redirects; the history stands for those).
	fleet := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, hotEvery: 1,
		Warm: WarmStart{Count: f12WarmCount, Publish: caddy.Duration(100 * time.Millisecond)}, keySalt: t.Name() + "fleet"})
	replay(t, fleet, links, history)
	testenv.WaitFor(t, "the fleet's samples counted", 30*time.Second, func() bool { return len(fleet.hot.ch) == 0 })
	p0 := fleet.hot.publishedCodes()
	replay(t, fleet, links, history[:1]) // one sample more, so that a publish follows
	testenv.WaitFor(t, "the fleet's hot list published", 30*time.Second, func() bool { return fleet.hot.publishedCodes() > p0 })

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rdb.Close() })

	// newEdge measures one new edge: it empties the L2 of the links (the
	// hot codes are the ones an LRU-evicting Redis drops first, since
	// warm edges never read them there; see docs/faults.md), starts the
	// edge, waits until it is ready, and serves the window at f12Rate.
	type result struct {
		serving, warmLoads int64 // store lookups after ready, and before
		warmBatches        int64 // the round trips of those before (LookupMany calls)
		ready              time.Duration
		load               loadgen.Stats
	}
	newEdge := func(name string, warm bool) result {
		for i := 0; i < len(links); i += 1000 {
			keys := make([]string, 0, 1000)
			for _, l := range links[i:min(i+1000, len(links))] {
				keys = append(keys, fleet.l2.Key("", l.Code))
			}
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		reg := &warmRegistry{m: make(map[readyGate]struct{})}
		ready := &ReadyHandler{reg: reg}
		open, count := counting()
		start := time.Now()
		edge := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, openStore: open,
			Warm:    WarmStart{Off: !warm, Count: f12WarmCount, Timeout: caddy.Duration(2 * time.Minute)},
			warmReg: reg, keySalt: t.Name() + name})
		testenv.WaitFor(t, name+" edge ready", 3*time.Minute, func() bool {
			w := httptest.NewRecorder()
			_ = ready.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil), nil)
			return w.Code == http.StatusOK
		})
		r := result{ready: time.Since(start), warmLoads: lookups(count)}
		if cs := count.Load(); cs != nil {
			r.warmBatches = cs.batches.Load()
		}
		var next atomic.Int64
		load := loadgen.Start(ctx, loadgen.Config{Rate: f12Rate}, func(context.Context) (string, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(seq)) {
				return "after", false // past the window: not counted below
			}
			w, err := serve(edge, "GET", "/"+links[seq[i]].Code, nil)
			if err != nil {
				return "error", true
			}
			return strconv.Itoa(w.Code), w.Code != http.StatusFound
		})
		testenv.WaitFor(t, name+" edge's window served", window+2*time.Minute, func() bool {
			return load.Ended() >= len(seq)
		})
		r.load = load.Window()
		load.Stop()
		r.serving = lookups(count) - r.warmLoads
		t.Logf("%s: ready after %s with %d warm-start lookups; window %s; %d lookups while serving",
			name, r.ready.Round(time.Millisecond), r.warmLoads, r.load, r.serving)
		if r.load.Failures != 0 {
			t.Errorf("%s: %d of %d redirects failed: %v", name, r.load.Failures, r.load.Requests, r.load.Outcomes)
		}
		return r
	}
	with := newEdge("warm", true) // first, while the fleet's hot list is in its minute
	without := newEdge("cold", false)

	ratio := float64(with.serving) / float64(max(without.serving, 1))
	secs := int(window / time.Second)
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("new edge at %d redirects/s, Zipf s=%.1f over %d links, links not in Redis; hot list of the fleet, warm_count %d",
			f12Rate, f12Zipf, f12Links, f12WarmCount),
		Expected: fmt.Sprintf("database lookups in the first %d s of traffic with warm start ≤ 0.5× without; 0 failed redirects", secs),
		Measured: fmt.Sprintf("first %d s: %d lookups without, %d with (%.2f×); redirect p99 %s without, %s with; warm start: %d codes looked up in %d batches before ready, ready in %.1f s",
			secs, without.serving, with.serving, ratio, without.load.P99.Round(time.Millisecond), with.load.P99.Round(time.Millisecond),
			with.warmLoads, with.warmBatches, with.ready.Seconds()),
	})
	if without.serving == 0 || ratio > 0.5 {
		t.Fatalf("database lookups in the first %s: %d with warm start, %d without (%.2f×); want at most 0.5×",
			window, with.serving, without.serving, ratio)
	}
}

// replay serves the codes of seq at h as fast as 8 clients can.
func replay(t *testing.T, h *Handler, links []linkstore.Link, seq []int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		bad  atomic.Int64
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(seq)); i = next.Add(1) - 1 {
				if w, err := serve(h, "GET", "/"+links[seq[i]].Code, nil); err != nil || w.Code != http.StatusFound {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of %d requests of the fleet's history failed", n, len(seq))
	}
}
