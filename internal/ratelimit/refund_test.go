package ratelimit

import (
	"context"
	"testing"
	"time"
)

// testRefund: a refund gives back exactly one request, never more than
// the burst, and leaves other keys alone.
func testRefund(t *testing.T, newLimiter newLimiterFunc) {
	const ms = time.Millisecond
	clock := newFakeClock()
	lim := newLimiter(t, Limit{Rate: 10, Burst: 3}, clock).(Refunder)
	refund := func(key string) {
		t.Helper()
		if err := lim.Refund(context.Background(), key); err != nil {
			t.Fatalf("Refund(%q): %v", key, err)
		}
	}

	refund("never") // nothing to give back: no error, no credit
	for i := range 3 {
		if d := allow(t, lim, "never"); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("a refund before any request gave credit: request %d %+v", i, d)
		}
	}
	if d := allow(t, lim, "never"); d.Allowed {
		t.Fatalf("over the burst after an early refund: %+v", d)
	}

	for range 3 {
		allow(t, lim, "k")
	}
	if d := allow(t, lim, "k"); d.Allowed {
		t.Fatalf("over the burst: %+v", d)
	}
	refund("k")
	wantDecision(t, "after one refund", allow(t, lim, "k"), Decision{Allowed: true, Remaining: 0, Reset: 100 * ms})
	if d := allow(t, lim, "k"); d.Allowed {
		t.Fatalf("one refund gave more than one request: %+v", d)
	}

	// Refunds beyond what was spent fill the bucket, no further.
	for range 10 {
		refund("k")
	}
	for i := range 3 {
		if d := allow(t, lim, "k"); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("after refunds, request %d: %+v", i, d)
		}
	}
	if d := allow(t, lim, "k"); d.Allowed {
		t.Fatalf("refunds overfilled the bucket: %+v", d)
	}
	if d := allow(t, lim, "other"); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("another key: %+v", d)
	}
}
