package testenv

import (
	"testing"
	"time"
)

// Receive returns the next value from ch, failing the test with msg when
// none comes within: the wait on a channel of a goroutine under test,
// bounded so that a broken one fails the test instead of hanging it.
func Receive[T any](tb testing.TB, ch <-chan T, within time.Duration, msg string) T {
	tb.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		tb.Fatal(msg)
	}
	panic("unreachable") // tb.Fatal does not return
}

// Send sends v on ch, failing the test with msg when nobody receives it
// within: how a test hands a value to a goroutine that must be waiting
// for it.
func Send[T any](tb testing.TB, ch chan<- T, v T, within time.Duration, msg string) {
	tb.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case ch <- v:
	case <-timer.C:
		tb.Fatal(msg)
	}
}
