package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
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
	// reloadRate is the edge's load during the reloads (redirects/s),
	// createRate and readRate the control plane's (creates/s, API
	// reads/s), and reloadEvery the reloads' pace.
	reloadRate, createRate, readRate = 200, 20, 50
	reloadEvery                      = 50 * time.Millisecond
	// settleWithin bounds the edge going back to its resting usage once
	// the load stops (old servers finishing their shutdown).
	settleWithin = 20 * time.Second
	// clicksWithin bounds the last click events reaching the topic.
	clicksWithin = 30 * time.Second
)

// TestFault08ConfigReloads reloads an edge's config and a control-plane
// node's through Caddy's admin API (POST /load, forced with
// Cache-Control: must-revalidate, as `caddy reload --force` does) 500
// times each (50 in make test), side by side, while the edge answers
// redirects at load and the node creates links and answers API reads of
// them. It checks that the reloads leak nothing in either process
// (goroutines, descriptors, heap after a GC: after within a small slack
// of before); that the edge loses or duplicates no click (the click
// events in the topic are exactly the requests answered 302, one each)
// and answered every request 302; and that every create the node
// acknowledged redirects through the edge, no code was answered twice,
// no create was stored twice, and a create or read refused during a
// reload was answered 503 with Retry-After and succeeded when sent again,
// as a client does.
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
	cp := startControlPlane(t, dsn, broker.Addr())
	clicks := readClicks(t, broker.Addr(), "clicks")
	red := newRedirects(e.URL, codes)
	api := newAPILoad(cp)

	// Warm up: every pooled resource made, every code in L1, the node's
	// connections open; then the resting usage with no client
	// connection open.
	warm := loadgen.Start(t.Context(), loadgen.Config{Rate: reloadRate}, red.request)
	warmAPI := loadgen.Start(t.Context(), loadgen.Config{Rate: createRate, Timeout: apiTimeout}, api.create)
	testenv.WaitFor(t, "the warm-up load", 30*time.Second, func() bool {
		return warm.Ended() >= 2*len(codes) && warmAPI.Ended() >= 2*createRate
	})
	warm.Stop()
	warmAPI.Stop()
	// The warm-up is not measured: a cold edge on a loaded machine may
	// answer a first miss 503 at its lookup bound. What counts is that
	// it reaches its steady state: every code a 302 now, every create
	// answered.
	if s, a := warm.Window(), warmAPI.Window(); s.Failures > 0 || a.Failures > 0 {
		t.Logf("warm-up (not measured): redirects %s; creates %s (%q)", s, a, api.errs)
	}
	red.warm(t)
	red.client.CloseIdleConnections()
	cp.client.CloseIdleConnections()
	before, cpBefore := e.usage(), cp.usage()
	edgeConf, cpConf := e.currentConfig(), cp.currentConfig()

	load := loadgen.Start(t.Context(), loadgen.Config{Rate: reloadRate}, red.request)
	creates := loadgen.Start(t.Context(), loadgen.Config{Rate: createRate, Timeout: apiTimeout}, api.create)
	reads := loadgen.Start(t.Context(), loadgen.Config{Rate: readRate, Timeout: apiTimeout}, api.read)
	start := time.Now()
	var (
		wg               sync.WaitGroup
		edgeErr, cpErr   error
		edgeTook, cpTook time.Duration
	)
	wg.Go(func() { edgeTook, edgeErr = reloadMany(e.proc, edgeConf, reloads) })
	wg.Go(func() { cpTook, cpErr = reloadMany(cp.proc, cpConf, reloads) })
	wg.Wait()
	took := time.Since(start)
	during, created, read := load.Window(), creates.Window(), reads.Window()
	load.Stop()
	creates.Stop()
	reads.Stop()
	if edgeErr != nil || cpErr != nil {
		t.Fatalf("reloads: edge %v; control plane %v", edgeErr, cpErr)
	}
	red.client.CloseIdleConnections()
	cp.client.CloseIdleConnections()
	t.Logf("%d reloads of each in %v (edge %v, control plane %v) under load: redirects %s; creates %s; reads %s",
		reloads, took.Round(time.Millisecond), edgeTook.Round(time.Millisecond), cpTook.Round(time.Millisecond), during, created, read)

	// The old configs' servers finish their graceful shutdown in the
	// background: wait for the usage to come back within the slack, or
	// for settleWithin, then judge what it came back to.
	after, cpAfter := settle(e.proc, before), settle(cp.proc, cpBefore)

	answered, unknown, retried := red.counts()
	testenv.WaitFor(t, "the click events of every request answered", clicksWithin, func() bool {
		return clicks.count() >= answered
	})
	// Anything more (a duplicate) would come within a fetch or two.
	extra := time.NewTimer(time.Second) // a deliberate grace for late duplicates
	<-extra.C
	got := clicks.check(red)
	made := api.check(t, dsn, e)

	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("%d config reloads each (POST /load, forced, one per %v) of an edge at %d redirects/s and of a control-plane node at %d creates/s + %d API reads/s, side by side",
			reloads, reloadEvery, reloadRate, createRate, readRate),
		Expected: fmt.Sprintf("each process: goroutines ≤ +%d, fds ≤ +%d, heap after GC ≤ +%d MiB; every request 302 (a connection cut before any answer sent again for up to 2 s, as the front door does); click events = 302s, 0 duplicated; every acknowledged create redirects, 0 duplicate codes, 0 stored twice; creates and reads refused only with 503 + Retry-After, then done",
			reloadGoroutineSlack, reloadFDSlack, reloadHeapSlack>>20),
		Measured: fmt.Sprintf("edge: %s; %d requests, %d failed, %d sent again (connection cut before any answer), %d 302s, %d events, %d duplicated, %d missing; control plane: %s; %d creates acknowledged (%d failed), %d reads (%d failed), %d refused with 503 + Retry-After and sent again (%d without), %d sent again after a cut connection, %d unanswered; %d of %d acknowledged codes redirect, %d duplicate codes, %d stored twice; %d reloads each in %v",
			usageDelta(before, after), during.Requests, during.Failures, retried, answered, got.Events, got.Duplicated, got.Missing,
			usageDelta(cpBefore, cpAfter), created.Requests-created.Failures, created.Failures, read.Requests, read.Failures,
			made.Refused, made.NoRetryAfter, made.Retried, made.Unanswered, made.Redirected, made.Acked, made.DuplicateCodes, made.StoredTwice,
			reloads, took.Round(time.Second)),
	})

	for name, u := range map[string][2]usage{"edge": {before, after}, "control plane": {cpBefore, cpAfter}} {
		if !within(u[0], u[1]) {
			t.Errorf("after %d reloads the %s holds %s, before %s: more than the slack (+%d goroutines, +%d fds, +%d MiB)",
				reloads, name, u[1], u[0], reloadGoroutineSlack, reloadFDSlack, reloadHeapSlack>>20)
		}
	}
	if during.Failures > 0 || unknown > 0 {
		t.Errorf("requests failed during the reloads: %s (%d with no answer: %q)", during, unknown, red.errs)
	}
	if got.Duplicated != 0 || got.Missing != 0 || got.Unanswered != 0 || len(got.Undecoded) > 0 || got.Foreign > 0 {
		t.Errorf("click events against the %d requests answered 302: %+v", answered, got)
	}
	if created.Failures > 0 || read.Failures > 0 || made.NoRetryAfter > 0 || made.Unanswered > 0 || created.Requests == 0 || read.Requests == 0 {
		t.Errorf("the control plane's API during the reloads: creates %s, reads %s: %+v", created, read, made)
	}
	if made.Redirected != made.Acked || made.DuplicateCodes > 0 || made.StoredTwice > 0 {
		t.Errorf("acknowledged creates: %d of %d redirect through the edge, %d duplicate codes, %d targets stored twice: %q",
			made.Redirected, made.Acked, made.DuplicateCodes, made.StoredTwice, made.Errors)
	}
	for _, p := range []*proc{e.proc, cp.proc} {
		if !p.Running() {
			t.Errorf("the %s exited", p.Name)
		}
	}
}

// reloadMany reloads p's config n times, one every reloadEvery (the
// fault's deliberate pace, a ticker: back to back they take a few
// milliseconds each, and the load would see only a fraction of a second
// of them), and returns how long that took.
func reloadMany(p *proc, config []byte, n int) (time.Duration, error) {
	start := time.Now()
	pace := time.NewTicker(reloadEvery)
	defer pace.Stop()
	for i := range n {
		if err := p.reload(config); err != nil {
			return time.Since(start), fmt.Errorf("reload %d of %d: %w", i+1, n, err)
		}
		<-pace.C
	}
	return time.Since(start), nil
}

// settle reads p's usage until it is within the slack of before, or
// settleWithin has passed, and returns the last reading.
func settle(p *proc, before usage) usage {
	after := p.usage()
	for deadline := time.Now().Add(settleWithin); time.Now().Before(deadline) && !within(before, after); {
		tick := time.NewTimer(200 * time.Millisecond) // a poll interval, not a wait for an event
		<-tick.C
		after = p.usage()
	}
	return after
}

// usageDelta says before → after for each measure of usage.
func usageDelta(before, after usage) string {
	return fmt.Sprintf("goroutines %d → %d (%+d), fds %d → %d (%+d), heap %.1f → %.1f MiB (%+.1f)",
		before.Goroutines, after.Goroutines, after.Goroutines-before.Goroutines,
		before.FDs, after.FDs, after.FDs-before.FDs,
		mib(before.HeapAlloc), mib(after.HeapAlloc), mib(after.HeapAlloc-before.HeapAlloc))
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
