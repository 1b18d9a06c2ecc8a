// Package leadertest has what the tests of leader-only work share (the
// leader package's runner, the partition upkeep): a timer that the test
// fires by hand, so that a run starts exactly when the test says.
package leadertest

import (
	"slices"
	"sync"
	"time"
)

// Timer is an injected timer for leader.Runner's After: every wait it is
// asked for returns Fire, and Waits lists the durations asked, in order.
type Timer struct {
	// Fire ends the wait the work is in; the test sends on it.
	Fire  chan time.Time
	mu    sync.Mutex
	asked []time.Duration
}

// NewTimer returns a timer no one has asked yet.
func NewTimer() *Timer { return &Timer{Fire: make(chan time.Time)} }

// After records d and returns Fire.
func (tm *Timer) After(d time.Duration) <-chan time.Time {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.asked = append(tm.asked, d)
	return tm.Fire
}

// Waits returns the durations asked so far.
func (tm *Timer) Waits() []time.Duration {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.asked)
}
