package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// Bounds of fault 8: what the edge may hold after the reloads beyond what
// it held before, both read with no request in flight and no client
// connection open, the heap right after a forced GC. A leak of one
// goroutine, descriptor or registry per reload would exceed each by far
// (500 reloads; 50 in the short variant); the slack is the runtime's own
// (timers, the HTTP servers' and Kafka clients' goroutines that come and
// go) and the allocator's.
const (
	reloadGoroutineSlack = 10
	reloadFDSlack        = 5
	reloadHeapSlack      = 8 << 20 // bytes
	// reloadRate is the load during the reloads (redirects/s), and
	// reloadEvery their pace.
	reloadRate  = 200
	reloadEvery = 50 * time.Millisecond
	// settleWithin bounds the edge going back to its resting usage once
	// the load stops (old servers finishing their shutdown).
	settleWithin = 20 * time.Second
	// clicksWithin bounds the last click events reaching the topic.
	clicksWithin = 30 * time.Second
)

// TestFault08ConfigReloads reloads an edge's config through Caddy's admin
// API (POST /load, forced with Cache-Control: must-revalidate, as
// `caddy reload --force` does) 500 times (50 in make test) while it
// answers redirects at load, and checks that the reloads leak nothing
// (goroutines, descriptors, heap after a GC: after within a small slack
// of before), lose or duplicate no click (the click events in the topic
// are exactly the requests answered 302, one each), and that every
// request was answered 302 throughout.
func TestFault08ConfigReloads(t *testing.T) {
	reloads := 50
	if long {
		reloads = 500
	}
	dsn := testenv.Database(t)
	codes := makeLinks(t, dsn, "f08r", 50)
	broker := kafkatest.StartBroker(t, 4, "clicks", "shortify.link-events")
	e := startEdge(t, edgeConfig{DSN: dsn, Redis: testenv.RedisAddr(t),
		RedisPrefix: testenv.UniquePrefix(t) + "link:", Brokers: broker.Addr()})
	clicks := readClicks(t, broker.Addr(), "clicks")
	red := newRedirects(e.URL, codes)

	// Warm up: every pooled resource made, every code in L1; then the
	// resting usage with no client connection open.
	warm := loadgen.Start(t.Context(), loadgen.Config{Rate: reloadRate}, red.request)
	testenv.WaitFor(t, "the warm-up load", 30*time.Second, func() bool { return warm.Ended() >= 2*len(codes) })
	warm.Stop()
	if s := warm.Window(); s.Failures > 0 {
		t.Fatalf("warm-up: %s", s)
	}
	red.client.CloseIdleConnections()
	before := e.usage()
	config := e.currentConfig()

	load := loadgen.Start(t.Context(), loadgen.Config{Rate: reloadRate}, red.request)
	start := time.Now()
	// One reload every reloadEvery (the fault's deliberate pace, a
	// ticker): back to back they take a few milliseconds each, and the
	// load would see only a fraction of a second of them.
	pace := time.NewTicker(reloadEvery)
	for i := range reloads {
		if err := e.reload(config); err != nil {
			pace.Stop()
			load.Stop()
			t.Fatalf("reload %d of %d: %v", i+1, reloads, err)
		}
		<-pace.C
	}
	pace.Stop()
	took := time.Since(start)
	during := load.Window()
	load.Stop()
	red.client.CloseIdleConnections()
	t.Logf("%d reloads in %v under load: %s", reloads, took.Round(time.Millisecond), during)

	// The old configs' servers finish their graceful shutdown in the
	// background: wait for the usage to come back within the slack, or
	// for settleWithin, then judge what it came back to.
	after := e.usage()
	for deadline := time.Now().Add(settleWithin); time.Now().Before(deadline) && !within(before, after); {
		tick := time.NewTimer(200 * time.Millisecond) // a poll interval, not a wait for an event
		<-tick.C
		after = e.usage()
	}

	answered, unknown, retried := red.counts()
	testenv.WaitFor(t, "the click events of every request answered", clicksWithin, func() bool {
		return clicks.count() >= answered
	})
	// Anything more (a duplicate) would come within a fetch or two.
	extra := time.NewTimer(time.Second) // a deliberate grace for late duplicates
	<-extra.C
	got := clicks.check(red)

	dG, dF, dH := after.Goroutines-before.Goroutines, after.FDs-before.FDs, after.HeapAlloc-before.HeapAlloc
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("%d config reloads (POST /load, forced, one per %v) of an edge at %d redirects/s", reloads, reloadEvery, reloadRate),
		Expected: fmt.Sprintf("goroutines ≤ +%d, fds ≤ +%d, heap after GC ≤ +%d MiB; every request 302 (a connection cut before any answer sent again for up to 2 s, as the front door does); click events = 302s, 0 duplicated",
			reloadGoroutineSlack, reloadFDSlack, reloadHeapSlack>>20),
		Measured: fmt.Sprintf("goroutines %d → %d (%+d), fds %d → %d (%+d), heap %.1f → %.1f MiB (%+.1f); %d requests, %d failed, %d sent again (connection cut before any answer), %d 302s, %d events, %d duplicated, %d missing; %d reloads in %v",
			before.Goroutines, after.Goroutines, dG, before.FDs, after.FDs, dF,
			mib(before.HeapAlloc), mib(after.HeapAlloc), mib(dH),
			during.Requests, during.Failures, retried, answered, got.Events, got.Duplicated, got.Missing, reloads, took.Round(time.Second)),
	})

	if !within(before, after) {
		t.Errorf("after %d reloads the edge holds %s, before %s: more than the slack (+%d goroutines, +%d fds, +%d MiB)",
			reloads, after, before, reloadGoroutineSlack, reloadFDSlack, reloadHeapSlack>>20)
	}
	if during.Failures > 0 || unknown > 0 {
		t.Errorf("requests failed during the reloads: %s (%d with no answer: %q)", during, unknown, red.errs)
	}
	if got.Duplicated != 0 || got.Missing != 0 || got.Unanswered != 0 || len(got.Undecoded) > 0 || got.Foreign > 0 {
		t.Errorf("click events against the %d requests answered 302: %+v", answered, got)
	}
	if !e.Running() {
		t.Error("the edge exited")
	}
}

// within reports whether after is within the reload slack of before.
func within(before, after usage) bool {
	return after.Goroutines-before.Goroutines <= reloadGoroutineSlack &&
		after.FDs-before.FDs <= reloadFDSlack &&
		after.HeapAlloc-before.HeapAlloc <= reloadHeapSlack
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// currentConfig is the process's running config (JSON) from its admin
// endpoint.
func (e *proc) currentConfig() []byte {
	e.t.Helper()
	body, err := get(e.t.Context(), e.Admin+"/config/")
	if err != nil {
		e.t.Fatalf("read the config: %v", err)
	}
	return []byte(body)
}

// reload loads config through the admin API. Cache-Control:
// must-revalidate makes Caddy reload even an unchanged config, as
// `caddy reload --force` does: every module is provisioned anew and the
// old config's cleaned up.
//
// Caddy restarts its admin endpoint with every config it loads, so each
// POST goes on a connection of its own, and one cut before an answer is
// sent again (loading the same config twice is harmless).
func (e *proc) reload(config []byte) error {
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	var (
		resp *http.Response
		err  error
	)
	for try := 0; try < 3; try++ {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, e.Admin+"/load", bytes.NewReader(config))
		if err != nil {
			return err
		}
		req.Close = true
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cache-Control", "must-revalidate")
		if resp, err = http.DefaultClient.Do(req); err == nil || !closedBeforeAnswer(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load: %s: %.300s", resp.Status, b)
	}
	return nil
}
