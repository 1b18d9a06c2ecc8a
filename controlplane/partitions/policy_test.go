package partitions

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/leader"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

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
	tm := newTimer()
	lead := &leader.Flag{}
	s, err := NewScheduler(m, lead, SchedulerConfig{
		Interval: time.Hour,
		Now:      func() time.Time { return time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC) },
		After:    tm.after,
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
