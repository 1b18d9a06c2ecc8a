package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 2 ms until it holds, failing the test with
// "timed out waiting for <what>" after within: the one way tests here wait
// for something to happen, instead of sleeping.
func WaitFor(tb testing.TB, what string, within time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s (%v)", what, within)
		}
		<-tick.C
	}
}
