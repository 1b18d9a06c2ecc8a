package partitions

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/controlplane/leader/leadertest"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

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
	timer  *leadertest.Timer
}

// startLeading starts a scheduler over m on a node that leads, at
// 2026-11-15 by its clock, and waits until it says so.
func startLeading(t *testing.T, m Maintainer) *observed {
	t.Helper()
	lead := &leader.Flag{}
	lead.Set(true)
	o := newObserved(t, m, lead, &clock{now: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)})
	o.s.Start(t.Context())
	o.state(t, "leading")
	return o
}

func newObserved(t *testing.T, m Maintainer, lead leader.Leadership, clk *clock) *observed {
	t.Helper()
	o := &observed{runs: make(chan Run, 16), states: make(chan string, 16), timer: leadertest.NewTimer()}
	s, err := NewScheduler(m, lead, SchedulerConfig{
		Interval:      24 * time.Hour,
		RetryInterval: time.Minute,
		Now:           clk.Now,
		After:         o.timer.After,
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

// run waits for the next run. (A state and the run after it can be ready
// together, so run and state each wait on their own channel.)
func (o *observed) run(t *testing.T) Run {
	t.Helper()
	select {
	case r := <-o.runs:
		return r
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
	case <-time.After(testTimeout):
		t.Fatalf("scheduler never went %s", want)
	}
}

// tick fires the timer; it fails when no scheduler is waiting on it, which
// a scheduler that runs between fires always is.
func (o *observed) tick(t *testing.T) {
	t.Helper()
	select {
	case o.timer.Fire <- time.Time{}:
	case <-time.After(testTimeout):
		t.Fatal("the scheduler is not waiting for its next run")
	}
}

// TestSchedulerRunsUpkeep: a leader keeps the partitions ahead, at once
// and then every interval. (Running only while leading, stopping and
// closing are package leader's, and tested there.)
func TestSchedulerRunsUpkeep(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, statsparts.Config{MonthsAhead: 2, Retention: 365 * 24 * time.Hour})
	clk := &clock{now: time.Date(2026, 11, 15, 3, 0, 0, 0, time.UTC)}
	lead := &leader.Flag{}
	o := newObserved(t, m, lead, clk)
	o.s.Start(t.Context())

	// A follower does nothing.
	o.state(t, "follower")
	if ps := listManaged(t, m); len(ps) != 0 {
		t.Fatalf("a follower created %v", statsparts.Names(ps))
	}

	// Leadership starts with a run.
	lead.Set(true)
	o.state(t, "leading")
	r := o.run(t)
	if r.Err != nil || !r.Now.Equal(clk.Now()) {
		t.Fatalf("first run: %+v", r)
	}
	if got, want := statsparts.Names(r.Report.Created), statsparts.MonthNames(month(2026, 11), month(2026, 12), month(2027, 1)); !slices.Equal(got, want) {
		t.Errorf("first run created %v,\nwant %v", got, want)
	}

	// A day later the interval's run; a month later it keeps ahead.
	clk.set(clk.Now().AddDate(0, 1, 0))
	o.tick(t)
	r = o.run(t)
	if got, want := statsparts.Names(r.Report.Created), statsparts.MonthNames(month(2027, 2)); r.Err != nil || !slices.Equal(got, want) {
		t.Errorf("interval run created %v (err %v), want %v", got, r.Err, want)
	}

	// Leading again starts with a run at once, which finds nothing to do.
	lead.Set(false)
	o.state(t, "follower")
	lead.Set(true)
	o.state(t, "leading")
	if r := o.run(t); r.Err != nil || len(r.Report.Created) != 0 {
		t.Errorf("run of the second leadership: created %v, err %v", statsparts.Names(r.Report.Created), r.Err)
	}
	for i, d := range o.timer.Waits() {
		if d != 24*time.Hour {
			t.Errorf("wait %d was %s, want the interval", i, d)
		}
	}

	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}
	o.state(t, "stopped")
	select {
	case r := <-o.runs:
		t.Errorf("unexpected run: %+v", r)
	default:
	}
}

func TestNewLeaderPicksUp(t *testing.T) {
	t.Parallel()
	// Two nodes, each with its manager on the same database.
	ma, dsn := setup(t, statsparts.Config{MonthsAhead: 1})
	mb, _ := setup(t, statsparts.Config{DSN: dsn, MonthsAhead: 1})
	clk := &clock{now: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)}
	leadA, leadB := &leader.Flag{}, &leader.Flag{}
	a, b := newObserved(t, ma, leadA, clk), newObserved(t, mb, leadB, clk)
	a.s.Start(t.Context())
	b.s.Start(t.Context())
	a.state(t, "follower")
	b.state(t, "follower")

	leadA.Set(true)
	a.state(t, "leading")
	if r := a.run(t); r.Err != nil || len(r.Report.Created) != 2*len(statsparts.Tables) {
		t.Fatalf("A's run created %v, err %v", statsparts.Names(r.Report.Created), r.Err)
	}

	// A loses the leadership; B wins it a month later and keeps ahead.
	leadA.Set(false)
	a.state(t, "follower")
	clk.set(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC))
	leadB.Set(true)
	b.state(t, "leading")
	r := b.run(t)
	if got, want := statsparts.Names(r.Report.Created), statsparts.MonthNames(month(2027, 2)); r.Err != nil || !slices.Equal(got, want) {
		t.Errorf("B's run created %v (err %v), want %v", got, r.Err, want)
	}
}

func TestSchedulerRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, statsparts.Config{})
	m.Close() // every run now fails
	o := startLeading(t, m)
	if r := o.run(t); r.Err == nil {
		t.Fatal("a run on a closed pool succeeded")
	}
	o.tick(t)
	if r := o.run(t); r.Err == nil {
		t.Fatal("the retry on a closed pool succeeded")
	}
	if got := o.timer.Waits(); len(got) < 1 || got[0] != time.Minute {
		t.Errorf("waits %v, want the retry interval first", got)
	}
}

func TestSchedulerOnSQLite(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, statsparts.Config{DSN: "sqlite://" + t.TempDir() + "/stats.db"})
	o := startLeading(t, m)
	if r := o.run(t); r.Err != nil {
		t.Fatalf("run on SQLite: %v", r.Err)
	}
	if err := o.s.Close(); err != nil {
		t.Fatal(err)
	}
	o.state(t, "stopped")
}

func TestNewSchedulerRefusesBadConfig(t *testing.T) {
	t.Parallel()
	lead := &leader.Flag{}
	if _, err := NewScheduler(nil, lead, SchedulerConfig{}); err == nil {
		t.Error("NewScheduler without a maintainer succeeded")
	}
	if _, err := NewScheduler(&statsparts.Manager{}, nil, SchedulerConfig{}); err == nil {
		t.Error("NewScheduler without a leadership succeeded")
	}
	if _, err := NewScheduler(&statsparts.Manager{}, lead, SchedulerConfig{Interval: -time.Hour}); err == nil {
		t.Error("NewScheduler with a negative interval succeeded")
	}
}

// policyMaintainer records how each run was asked for.
type policyMaintainer struct {
	mu     sync.Mutex
	plain  int
	policy []statsparts.Policy
}

func (m *policyMaintainer) Maintain(context.Context, time.Time) (statsparts.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.plain++
	return statsparts.Report{}, nil
}

func (m *policyMaintainer) MaintainWith(_ context.Context, _ time.Time, p statsparts.Policy) (statsparts.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.policy = append(m.policy, p)
	return statsparts.Report{}, nil
}

// policySource is a policy the test changes.
type policySource struct {
	mu  sync.Mutex
	p   statsparts.Policy
	set bool
}

func (s *policySource) Policy() (statsparts.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.set
}

func (s *policySource) change(p statsparts.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.set = p, true
}

// TestSchedulerReadsPolicyEveryRun: without a policy the maintainer's own
// settings apply; a policy set or changed applies to the next run.
func TestSchedulerReadsPolicyEveryRun(t *testing.T) {
	t.Parallel()
	m := &policyMaintainer{}
	src := &policySource{}
	runs := make(chan Run, 16)
	tm := leadertest.NewTimer()
	lead := &leader.Flag{}
	s, err := NewScheduler(m, lead, SchedulerConfig{
		Interval: time.Hour,
		Now:      func() time.Time { return time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC) },
		After:    tm.After,
		OnRun:    func(r Run) { runs <- r },
		Logger:   quiet,
		Policy:   src,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	o := &observed{s: s, runs: runs, timer: tm}
	lead.Set(true)
	s.Start(t.Context())

	o.run(t)
	first := statsparts.Policy{MonthsAhead: 2, Retention: 30 * 24 * time.Hour}
	src.change(first)
	o.tick(t)
	o.run(t)
	second := statsparts.Policy{MonthsAhead: 5, Retention: 90 * 24 * time.Hour, Detach: true}
	src.change(second)
	o.tick(t)
	o.run(t)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.plain != 1 || len(m.policy) != 2 || m.policy[0] != first || m.policy[1] != second {
		t.Fatalf("plain runs %d, policy runs %+v", m.plain, m.policy)
	}
}

func TestSchedulerPolicyNeedsPolicyMaintainer(t *testing.T) {
	var plain struct{ Maintainer }
	if _, err := NewScheduler(plain, &leader.Flag{}, SchedulerConfig{Policy: &policySource{}}); err == nil {
		t.Fatal("a policy source was accepted with a maintainer that cannot use it")
	}
}
