package deliver

import (
	"time"

	"github.com/shortify/shortify/webhooks"
)

// Schedule is the pause after each failed attempt, in order; after the
// last, the pause stays at the last one's until RetryFor is spent. It
// starts short, so that a receiver's restart costs seconds, and grows
// about fivefold, so that a receiver down for hours is not hammered.
var Schedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
}

// Jitter is the largest fraction a pause is shortened by at random, so
// that deliveries that failed together (a receiver's outage) do not all
// come back in the same second.
const Jitter = 0.1

// Backoff returns the pause after a delivery's failed attempt number
// attempts (1 for the first), and false when the delivery has been
// retried for webhooks.RetryFor and fails for good. The pauses follow
// Schedule; the last one is cut so that the nominal pauses add up to
// RetryFor exactly. r, in [0, 1), draws the jitter, which only ever
// shortens a pause: retrying never outlasts RetryFor.
func Backoff(attempts int, r float64) (time.Duration, bool) {
	if attempts < 1 {
		attempts = 1
	}
	var spent time.Duration
	for i := range attempts - 1 {
		spent += step(i)
	}
	left := webhooks.RetryFor - spent
	if left <= 0 {
		return 0, false
	}
	d := min(step(attempts-1), left)
	return d - time.Duration(float64(d)*Jitter*r), true
}

// step is the i-th pause of Schedule (0-based), the last one repeated.
func step(i int) time.Duration {
	return Schedule[min(i, len(Schedule)-1)]
}
