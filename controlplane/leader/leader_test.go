package leader

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/leader/leadertest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// waitTimeout bounds every wait; it only runs out when something is broken.
const waitTimeout = 30 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// call is one call of the work under test: its context, and where the
// test tells it to return the wait until the next run.
type call struct {
	ctx    context.Context
	answer chan time.Duration
}

// observed is a runner under test with its work's calls and its states.
type observed struct {
	r      *Runner
	calls  chan call
	states chan string
	timer  *leadertest.Timer
}

// newObserved returns a runner whose work blocks until the test answers
// the call (or the work's context ends: then it returns 0).
func newObserved(t *testing.T, lead Leadership) *observed {
	t.Helper()
	o := &observed{calls: make(chan call), states: make(chan string, 16), timer: leadertest.NewTimer()}
	work := func(ctx context.Context) time.Duration {
		c := call{ctx: ctx, answer: make(chan time.Duration)}
		o.calls <- c
		select {
		case d := <-c.answer:
			return d
		case <-ctx.Done():
			return 0
		}
	}
	o.r = NewRunner(lead, work, Config{
		Name:   "test work",
		After:  o.timer.After,
		Logger: quiet,
		Trace:  func(state string) { o.states <- state },
	})
	t.Cleanup(func() { _ = o.r.Close() })
	return o
}

// call waits for the next run of the work. (A state and the run after it
// can be ready together, so call and state each wait on their own
// channel; idle checks both.)
func (o *observed) call(t *testing.T) call {
	t.Helper()
	return testenv.Receive(t, o.calls, waitTimeout, "no run")
}

// state waits for the loop's next state, which must be want.
func (o *observed) state(t *testing.T, want string) {
	t.Helper()
	if st := testenv.Receive(t, o.states, waitTimeout, "runner never went "+want); st != want {
		t.Fatalf("runner went %s, want %s", st, want)
	}
}

// answer ends a run, asking for the next one after d.
func (c call) reply(t *testing.T, d time.Duration) {
	t.Helper()
	testenv.Send(t, c.answer, d, waitTimeout, "the run does not wait for its answer")
}

// tick ends the wait between runs.
func (o *observed) tick(t *testing.T) {
	t.Helper()
	testenv.Send(t, o.timer.Fire, time.Time{}, waitTimeout, "the runner is not waiting for its next run")
}

// idle checks that nothing runs and nobody waits on the timer.
func (o *observed) idle(t *testing.T) {
	t.Helper()
	select {
	case o.timer.Fire <- time.Time{}:
		t.Fatal("the runner still waits for its next run")
	case <-o.calls:
		t.Fatal("the runner still runs")
	case st := <-o.states:
		t.Fatalf("the runner went %s", st)
	default:
	}
}

func done(ctx context.Context) bool { return ctx.Err() != nil }

func TestRunsOnlyWhileLeading(t *testing.T) {
	t.Parallel()
	var lead Flag
	o := newObserved(t, &lead)
	o.r.Start(t.Context())

	// A follower does nothing.
	o.state(t, "follower")
	o.idle(t)

	// Leadership starts with a run at once, then one after every wait the
	// work asks for.
	lead.Set(true)
	o.state(t, "leading")
	o.call(t).reply(t, time.Hour)
	o.tick(t)
	o.call(t).reply(t, time.Minute) // a retry, say
	o.tick(t)
	c := o.call(t)

	// Losing leadership cancels the run in progress and stops the runs.
	lead.Set(false)
	testenv.Receive(t, c.ctx.Done(), waitTimeout, "the end of the leadership did not cancel the run")
	o.state(t, "follower")
	o.idle(t)
	if got, want := o.timer.Waits(), []time.Duration{time.Hour, time.Minute}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v: the ones the work asked for", got, want)
	}

	// Leadership lost while waiting between runs: no run follows.
	lead.Set(true)
	o.state(t, "leading")
	o.call(t).reply(t, time.Hour)
	waitFor(t, "the wait for the next run", func() bool { return len(o.timer.Waits()) == 3 })
	lead.Set(false)
	o.state(t, "follower")
	o.idle(t)

	// Leading again starts with a run at once, in a new context.
	lead.Set(true)
	o.state(t, "leading")
	if c := o.call(t); done(c.ctx) {
		t.Fatal("the new term's run has a cancelled context")
	} else {
		c.reply(t, time.Hour)
	}
}

func TestStopsWithItsContext(t *testing.T) {
	t.Parallel()
	var lead Flag
	lead.Set(true)
	o := newObserved(t, &lead)
	ctx, cancel := context.WithCancel(t.Context())
	o.r.Start(ctx)
	o.r.Start(ctx) // a second Start does nothing
	o.state(t, "leading")
	c := o.call(t)
	cancel()
	<-c.ctx.Done()
	o.state(t, "stopped")
	o.idle(t)
	if err := o.r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStartAfterCloseDoesNothing(t *testing.T) {
	t.Parallel()
	var lead Flag
	lead.Set(true)
	o := newObserved(t, &lead)
	if err := o.r.Close(); err != nil { // never started
		t.Fatal(err)
	}
	o.r.Start(t.Context())
	o.idle(t)
	lead.Set(false)
	lead.Set(true)
	o.idle(t)
	if err := o.r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseLeavesNoGoroutine is not parallel: it counts the runners'
// goroutines, and no other test runs meanwhile.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	var lead Flag
	lead.Set(true)
	o := newObserved(t, &lead)
	o.r.Start(t.Context())
	o.state(t, "leading")
	c := o.call(t)
	// The loop and its watch of the leadership.
	waitFor(t, "the runner's 2 goroutines", func() bool { return runnerGoroutines() == 2 })

	// Close cancels the run in progress and returns once it has returned.
	closed := make(chan error)
	go func() { closed <- o.r.Close() }()
	<-c.ctx.Done()
	if err := testenv.Receive(t, closed, waitTimeout, "Close did not return"); err != nil {
		t.Fatal(err)
	}
	// The loop had ended when Close returned.
	select {
	case st := <-o.states:
		if st != "stopped" {
			t.Fatalf("runner went %s, want stopped", st)
		}
	default:
		t.Fatal("Close returned before the runner stopped")
	}
	waitFor(t, "the runner's goroutines to end", func() bool { return runnerGoroutines() == 0 })
	if err := o.r.Close(); err != nil { // idempotent
		t.Errorf("second Close: %v", err)
	}
	o.r.Start(t.Context()) // does nothing after Close
	o.idle(t)
	if n := runnerGoroutines(); n != 0 {
		t.Errorf("%d goroutines of a runner after Start following Close", n)
	}
}

// runnerGoroutines counts the goroutines running a Runner's code.
func runnerGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "controlplane/leader.(*Runner)") {
			count++
		}
	}
	return count
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, waitTimeout, cond)
}

func TestFlag(t *testing.T) {
	t.Parallel()
	var f Flag
	leading, changed := f.Leading()
	if leading {
		t.Fatal("the zero Flag leads")
	}
	f.Set(false) // no change, no wake-up
	select {
	case <-changed:
		t.Fatal("woken without a change")
	default:
	}
	f.Set(true)
	select {
	case <-changed:
	default:
		t.Fatal("not woken by a change")
	}
	if leading, _ := f.Leading(); !leading {
		t.Error("Set(true) did not stick")
	}
}

func TestPoll(t *testing.T) {
	t.Parallel()
	var leader sync.Mutex // held: "this node leads"
	leads := false
	ask := func() bool {
		leader.Lock()
		defer leader.Unlock()
		return leads
	}
	set := func(v bool) {
		leader.Lock()
		defer leader.Unlock()
		leads = v
	}
	p := Poll(ask, time.Millisecond)
	defer p.Close()
	leading, changed := p.Leading()
	if leading {
		t.Fatal("leads before the node does")
	}
	for _, want := range []bool{true, false} {
		set(want)
		testenv.Receive(t, changed, waitTimeout, fmt.Sprintf("the poll never saw leading=%v", want))
		if leading, changed = p.Leading(); leading != want {
			t.Fatalf("Leading() = %v, want %v", leading, want)
		}
	}
	p.Close()
	set(true)
	// Stopped: the flag keeps its last value.
	if leading, _ := p.Leading(); leading {
		t.Error("a closed poll still follows the node")
	}
}
