package ratelimit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock (and an otter.Clock) that tests move by hand. It
// delivers no ticks, so otter cleans up only on its own operations or
// CleanUp; expired entries are invisible to reads all the same.
type fakeClock struct{ nanos atomic.Int64 }

// testEpoch is where fake clocks start: a round time, so that the
// microseconds the Redis script sees are exact.
var testEpoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newFakeClock() *fakeClock {
	c := new(fakeClock)
	c.nanos.Store(testEpoch.UnixNano())
	return c
}

func (c *fakeClock) NowNano() int64                      { return c.nanos.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) Advance(d time.Duration)             { c.nanos.Add(int64(d)) }
func (c *fakeClock) Since(start int64) time.Duration     { return time.Duration(c.nanos.Load() - start) }

// newLimiterFunc builds the limiter under test for l, driven by clock.
type newLimiterFunc func(t *testing.T, l Limit, clock Clock) Limiter

// onBoth runs test as a parallel subtest for each Limiter: the local one
// and the Redis one (which must behave the same).
func onBoth(t *testing.T, test func(t *testing.T, newLimiter newLimiterFunc)) {
	for name, newLimiter := range map[string]newLimiterFunc{"Local": newTestLocal, "Redis": newTestRedis} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newLimiter)
		})
	}
}

func TestScriptedBurst(t *testing.T) {
	t.Parallel()
	onBoth(t, testScriptedBurst)
}

func TestSlowRate(t *testing.T) {
	t.Parallel()
	onBoth(t, testSlowRate)
}

func TestRefund(t *testing.T) {
	t.Parallel()
	onBoth(t, testRefund)
}

func allow(t *testing.T, l Limiter, key string) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

func wantDecision(t *testing.T, what string, got, want Decision) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// testScriptedBurst runs the same script against every Limiter: a burst,
// the sustained rate, RetryAfter to the microsecond, independent keys and a
// refill capped at Burst.
func testScriptedBurst(t *testing.T, newLimiter newLimiterFunc) {
	const ms = time.Millisecond
	clock := newFakeClock()
	lim := newLimiter(t, Limit{Rate: 10, Burst: 5}, clock)

	// Exactly Burst at once, each telling how many are left.
	for i := range 5 {
		wantDecision(t, "burst request", allow(t, lim, "a"),
			Decision{Allowed: true, Remaining: 4 - i, Reset: 100 * ms})
	}
	// Then nothing, however often asked, until one interval has passed.
	for range 3 {
		wantDecision(t, "over the burst", allow(t, lim, "a"),
			Decision{Remaining: 0, RetryAfter: 100 * ms, Reset: 100 * ms})
	}
	clock.Advance(100*ms - time.Microsecond)
	wantDecision(t, "a microsecond early", allow(t, lim, "a"),
		Decision{RetryAfter: time.Microsecond, Reset: time.Microsecond})
	clock.Advance(time.Microsecond)
	wantDecision(t, "on time", allow(t, lim, "a"), Decision{Allowed: true, Reset: 100 * ms})
	wantDecision(t, "right after", allow(t, lim, "a"),
		Decision{RetryAfter: 100 * ms, Reset: 100 * ms})

	// Keys are independent: b has its whole burst while a has nothing.
	for i := range 5 {
		wantDecision(t, "other key", allow(t, lim, "b"),
			Decision{Allowed: true, Remaining: 4 - i, Reset: 100 * ms})
	}
	if d := allow(t, lim, "b"); d.Allowed {
		t.Fatalf("b over its burst: %+v", d)
	}

	// Sustained: a client asking every 10 ms gets exactly Rate a second,
	// and each refusal's RetryAfter is exactly when the next one succeeds.
	start := clock.NowNano()
	var perSecond [3]int
	var due time.Duration // when the last refusal said to come back, from start
	for clock.Since(start) < 3*time.Second {
		clock.Advance(10 * ms)
		now := clock.Since(start)
		for {
			d := allow(t, lim, "a")
			if !d.Allowed {
				due = now + d.RetryAfter
				break
			}
			if now != due {
				t.Fatalf("allowed at %v, but the last refusal said %v", now, due)
			}
			perSecond[(now-time.Nanosecond)/time.Second]++
		}
	}
	if perSecond != [3]int{10, 10, 10} {
		t.Fatalf("allowed per second = %v, want 10 each", perSecond)
	}

	// A long pause refills the bucket up to Burst, no further.
	clock.Advance(time.Hour)
	allowed := 0
	for allow(t, lim, "a").Allowed {
		allowed++
	}
	if allowed != 5 {
		t.Fatalf("after an hour: %d allowed at once, want the burst of 5", allowed)
	}
}

// testSlowRate checks a rate below one a second (one a minute, as for
// anonymous creation).
func testSlowRate(t *testing.T, newLimiter newLimiterFunc) {
	clock := newFakeClock()
	lim := newLimiter(t, Limit{Rate: 1.0 / 60, Burst: 2}, clock)
	wantDecision(t, "first", allow(t, lim, "k"), Decision{Allowed: true, Remaining: 1, Reset: time.Minute})
	wantDecision(t, "second", allow(t, lim, "k"), Decision{Allowed: true, Remaining: 0, Reset: time.Minute})
	wantDecision(t, "third", allow(t, lim, "k"), Decision{RetryAfter: time.Minute, Reset: time.Minute})
	clock.Advance(45 * time.Second)
	wantDecision(t, "45 s later", allow(t, lim, "k"), Decision{RetryAfter: 15 * time.Second, Reset: 15 * time.Second})
	clock.Advance(15 * time.Second)
	wantDecision(t, "a minute later", allow(t, lim, "k"), Decision{Allowed: true, Remaining: 0, Reset: time.Minute})
	clock.Advance(90 * time.Second) // one and a half back
	wantDecision(t, "90 s later", allow(t, lim, "k"), Decision{Allowed: true, Remaining: 0, Reset: 30 * time.Second})
}
