package partitions

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// timer is the scheduler's injected timer: the test decides when the
// interval has passed by sending on fire, which only a scheduler waiting
// for its next run receives.
type timer struct {
	fire  chan time.Time
	mu    sync.Mutex
	asked []time.Duration
}

func newTimer() *timer { return &timer{fire: make(chan time.Time)} }

func (tm *timer) after(d time.Duration) <-chan time.Time {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.asked = append(tm.asked, d)
	return tm.fire
}

func (tm *timer) waits() []time.Duration {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.asked)
}

// clock is an injected clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// observed is a scheduler under test with its runs and states.
type observed struct {
	s      *Scheduler
	runs   chan Run
	states chan string
	timer  *timer
}

func newObserved(t *testing.T, m Maintainer, lead Leadership, clk *clock) *observed {
	t.Helper()
	o := &observed{runs: make(chan Run, 16), states: make(chan string, 16), timer: newTimer()}
	s, err := NewScheduler(m, lead, SchedulerConfig{
		Interval:      24 * time.Hour,
		RetryInterval: time.Minute,
		Now:           clk.Now,
		After:         o.timer.after,
		OnRun:         func(r Run) { o.runs <- r },
		Logger:        quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.trace = func(state string) { o.states <- state }
	o.s = s
	t.Cleanup(func() { _ = s.Close() })
	return o
}

// testTimeout bounds each wait for the scheduler; it only fires when the
// scheduler is broken.
const testTimeout = 30 * time.Second

func (o *observed) run(t *testing.T) Run {
	t.Helper()
	select {
	case r := <-o.runs:
		return r
	case st := <-o.states:
		t.Fatalf("scheduler went %s, want a run", st)
	case <-time.After(testTimeout):
		t.Fatal("no run")
	}
	return Run{}
}

func (o *observed) state(t *testing.T, want string) {
	t.Helper()
	select {
	case st := <-o.states:
		if st != want {
			t.Fatalf("scheduler went %s, want %s", st, want)
		}
	case r := <-o.runs:
		t.Fatalf("unexpected run at %s (err %v), want state %s", r.Now, r.Err, want)
	case <-time.After(testTimeout):
		t.Fatalf("scheduler never went %s", want)
	}
}

// tick fires the timer; it fails when no scheduler is waiting on it, which
// a scheduler that runs between fires always is.
func (o *observed) tick(t *testing.T) {
	t.Helper()
	select {
	case o.timer.fire <- time.Time{}:
	case <-time.After(testTimeout):
		t.Fatal("the scheduler is not waiting for its next run")
	}
}

func TestSchedulerRunsOnlyWhileLeader(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, Config{MonthsAhead: 2, Retention: 365 * 24 * time.Hour})
	clk := &clock{now: time.Date(2026, 11, 15, 3, 0, 0, 0, time.UTC)}
	lead := &LeaderFlag{}
	o := newObserved(t, m, lead, clk)
	o.s.Start(t.Context())

	// A follower does nothing.
	o.state(t, "follower")
	if ps := listManaged(t, m); len(ps) != 0 {
		t.Fatalf("a follower created %v", names(ps))
	}

	// Leadership starts with a run.
	lead.Set(true)
	r := o.run(t)
	if r.Err != nil || !r.Now.Equal(clk.Now()) {
		t.Fatalf("first run: %+v", r)
	}
	if got, want := names(r.Report.Created), managedNames(month(2026, 11), month(2026, 12), month(2027, 1)); !slices.Equal(got, want) {
		t.Errorf("first run created %v,\nwant %v", got, want)
	}

	// A day later the interval's run; a month later it keeps ahead.
	clk.set(clk.Now().AddDate(0, 1, 0))
	o.tick(t)
	r = o.run(t)
	if got, want := names(r.Report.Created), managedNames(month(2027, 2)); r.Err != nil || !slices.Equal(got, want) {
		t.Errorf("interval run created %v (err %v), want %v", got, r.Err, want)
	}

	// Losing leadership stops the runs: nobody waits on the timer any more.
	lead.Set(false)
	o.state(t, "follower")
	select {
	case o.timer.fire <- time.Time{}:
		t.Fatal("a follower still waits for its next run")
	default:
	}

	// Leading again starts with a run at once, which finds nothing to do.
	lead.Set(true)
	if r := o.run(t); r.Err != nil || len(r.Report.Created) != 0 {
		t.Errorf("run of the second leadership: created %v, err %v", names(r.Report.Created), r.Err)
	}
	for i, d := range o.timer.waits() {
		if d != 24*time.Hour {
			t.Errorf("wait %d was %s, want the interval", i, d)
		}
	}

	// Close ends the goroutine, and no run follows.
	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}
	o.state(t, "stopped")
	if err := o.s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case r := <-o.runs:
		t.Errorf("run after Close: %+v", r)
	default:
	}
}

func TestNewLeaderPicksUp(t *testing.T) {
	t.Parallel()
	// Two nodes, each with its manager on the same database.
	ma, dsn := setup(t, Config{MonthsAhead: 1})
	mb, _ := setup(t, Config{DSN: dsn, MonthsAhead: 1})
	clk := &clock{now: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)}
	leadA, leadB := &LeaderFlag{}, &LeaderFlag{}
	a, b := newObserved(t, ma, leadA, clk), newObserved(t, mb, leadB, clk)
	a.s.Start(t.Context())
	b.s.Start(t.Context())
	a.state(t, "follower")
	b.state(t, "follower")

	leadA.Set(true)
	if r := a.run(t); r.Err != nil || len(r.Report.Created) != 2*len(Tables) {
		t.Fatalf("A's run created %v, err %v", names(r.Report.Created), r.Err)
	}

	// A loses the leadership; B wins it a month later and keeps ahead.
	leadA.Set(false)
	a.state(t, "follower")
	clk.set(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC))
	leadB.Set(true)
	r := b.run(t)
	if got, want := names(r.Report.Created), managedNames(month(2027, 2)); r.Err != nil || !slices.Equal(got, want) {
		t.Errorf("B's run created %v (err %v), want %v", got, r.Err, want)
	}
}

func TestSchedulerRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, Config{})
	m.Close() // every run now fails
	clk := &clock{now: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)}
	lead := &LeaderFlag{}
	lead.Set(true)
	o := newObserved(t, m, lead, clk)
	o.s.Start(t.Context())
	if r := o.run(t); r.Err == nil {
		t.Fatal("a run on a closed pool succeeded")
	}
	o.tick(t)
	if r := o.run(t); r.Err == nil {
		t.Fatal("the retry on a closed pool succeeded")
	}
	if got := o.timer.waits(); len(got) < 1 || got[0] != time.Minute {
		t.Errorf("waits %v, want the retry interval first", got)
	}
}

func TestSchedulerStopsWithItsContext(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, Config{DSN: "sqlite://" + t.TempDir() + "/stats.db"})
	clk := &clock{now: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)}
	lead := &LeaderFlag{}
	lead.Set(true)
	o := newObserved(t, m, lead, clk)
	ctx, cancel := context.WithCancel(t.Context())
	o.s.Start(ctx)
	o.s.Start(ctx) // a second Start does nothing
	if r := o.run(t); r.Err != nil {
		t.Fatalf("run on SQLite: %v", r.Err)
	}
	cancel()
	o.state(t, "stopped")
	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}

	// Close before Start: nothing runs, ever.
	idle := newObserved(t, m, lead, clk)
	if err := idle.s.Close(); err != nil {
		t.Fatal(err)
	}
	idle.s.Start(t.Context())
	select {
	case st := <-idle.states:
		t.Errorf("a closed scheduler went %s", st)
	default:
	}
}

func TestLeaderFlag(t *testing.T) {
	t.Parallel()
	var f LeaderFlag
	leading, changed := f.Leading()
	if leading {
		t.Fatal("the zero LeaderFlag leads")
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
	if _, err := NewScheduler(nil, &f, SchedulerConfig{}); err == nil {
		t.Error("NewScheduler without a maintainer succeeded")
	}
}

func TestPollLeadership(t *testing.T) {
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
	p := PollLeadership(ask, time.Millisecond)
	defer p.Close()
	leading, changed := p.Leading()
	if leading {
		t.Fatal("leads before the node does")
	}
	for _, want := range []bool{true, false} {
		set(want)
		select {
		case <-changed:
		case <-time.After(testTimeout):
			t.Fatalf("the poll never saw leading=%v", want)
		}
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
