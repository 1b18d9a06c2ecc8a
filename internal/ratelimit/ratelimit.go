// Package ratelimit limits the rate of requests per key (a client address,
// an API key) with GCRA, the generic cell rate algorithm: a token bucket
// that keeps one number per key, the theoretical arrival time (TAT) of the
// next request were the client to send at exactly the allowed rate. A
// request at time now is allowed when
//
//	max(TAT, now) + T - now <= Burst*T     (T = 1/Rate, the emission interval)
//
// and then moves TAT to max(TAT, now) + T. So a key may spend Burst requests
// at once, and Rate per second after that; once TAT is in the past the
// bucket is full again and the key's state can be forgotten.
//
// Three Limiters share that arithmetic:
//
//   - Local keeps the state in memory, in an otter cache bounded by a number
//     of keys, so memory stays bounded however many clients there are.
//   - Redis keeps it in Redis, one key per limited key, checked and updated
//     by one Lua script per request, for limits that must hold across
//     processes exactly.
//   - Synced decides from a Local and syncs the counts with Redis (the same
//     keys) in one pipeline per interval, for limits that must hold across
//     processes approximately, without a round trip per request.
//
// A Decision carries what a response needs: whether the request may go on,
// and the values of the Retry-After, RateLimit and RateLimit-Policy header
// fields (draft-ietf-httpapi-ratelimit-headers), which WriteHeaders writes.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Limiter decides whether a request counted against key may go on.
//
// Allow returns an error only when it could not decide (Redis unreachable,
// the context done); the Decision is then the zero Decision and the caller
// chooses between failing open and failing closed. The recommendation for
// Shortify: fail open, to a Local limiter with the same Limit, and count
// the errors. A shared limit exists to stop abuse, while an outage of Redis
// that turns every redirect (or every anonymous create) into a 429 or a 503
// would hurt every user; the local fallback still holds each process to the
// limit, so the whole fleet admits at most N times the limit for N
// processes while Redis is away. Give Allow a short deadline (the Redis
// client's timeouts, or the context's) so that a slow Redis costs each
// request little before the fallback answers.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// Limit is a rate limit: Rate requests per second sustained, with bursts of
// up to Burst requests at once.
type Limit struct {
	// Rate is the sustained rate, in requests per second; it may be below
	// one (1.0/60 is one a minute). The emission interval 1/Rate is rounded
	// to the microsecond, the resolution both limiters keep.
	Rate float64
	// Burst is how many requests a key that has been quiet may send at
	// once, at least 1. It is the q of the RateLimit-Policy header.
	Burst int
	// Name identifies the limit in the RateLimit and RateLimit-Policy
	// header fields, so that a client can tell apart the limits of
	// different routes. Empty means "default". It is printable ASCII.
	Name string
}

// MaxWindow bounds Burst/Rate, the time an empty bucket takes to fill.
// Beyond it, a Limit is more likely a typo than a policy, and the
// microsecond arithmetic of the Redis script (exact in a double up to 2^53)
// keeps a wide margin.
const MaxWindow = 10 * 365 * 24 * time.Hour

// Validate reports whether l is a usable limit.
func (l Limit) Validate() error {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate <= 0:
		return fmt.Errorf("ratelimit: rate %v is not a positive number of requests per second", l.Rate)
	case l.Rate > 1e6:
		return fmt.Errorf("ratelimit: rate %v is above a million requests per second per key, the microsecond resolution", l.Rate)
	case l.Burst < 1:
		return fmt.Errorf("ratelimit: burst %d is below 1", l.Burst)
	}
	if float64(l.Burst)/l.Rate > MaxWindow.Seconds() {
		return fmt.Errorf("ratelimit: burst %d at rate %v/s takes longer than %v to refill", l.Burst, l.Rate, MaxWindow)
	}
	for i := 0; i < len(l.Name); i++ {
		if c := l.Name[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("ratelimit: name %q is not printable ASCII", l.Name)
		}
	}
	return nil
}

// interval returns the emission interval 1/Rate, rounded to the
// microsecond (at least 1µs) so that Local and the Redis script, which
// counts in microseconds, agree.
func (l Limit) interval() time.Duration {
	return time.Duration(max(1, int64(math.Round(1e6/l.Rate)))) * time.Microsecond
}

// window returns Burst*T: the time an empty bucket takes to fill, and the
// most TAT can be ahead of now.
func (l Limit) window() time.Duration { return time.Duration(l.Burst) * l.interval() }

// Decision is the outcome of one Allow.
type Decision struct {
	// Allowed reports whether the request may go on.
	Allowed bool
	// Remaining is how many more requests the key could send right now
	// (after this one, if it was allowed).
	Remaining int
	// RetryAfter is, for a refused request, how long until the same
	// request would be allowed; 0 when Allowed.
	RetryAfter time.Duration
	// Reset is how long until Remaining grows by one: the draft's
	// effective window, within which the key can send no more than
	// Remaining requests. It equals RetryAfter for a refused request, and
	// is 0 when the bucket is full. (The bucket is full again after
	// Reset + (Burst-Remaining-1) emission intervals.)
	Reset time.Duration
}

// decide builds the Decision for a key whose TAT, after the request, is
// ahead of now by ahead (for a refused request, the TAT it kept, or now if
// that is in the past). t and window are the limit's emission interval and
// Burst*T. Local and Redis both end here, so that the two agree exactly.
func decide(allowed bool, ahead, t, window time.Duration) Decision {
	ahead = max(ahead, 0)
	d := Decision{Allowed: allowed}
	// spare is the room left in the bucket, in time: each T of it is one
	// request, and it grows as time passes until it is the whole window.
	// (It is negative only if the clock went back after TAT was set.)
	spare := max(window-ahead, 0)
	d.Remaining = int(spare / t)
	if spare < window {
		d.Reset = t - spare%t
	}
	if !allowed {
		// Allowed once ahead+T-window, which shrinks as time passes, is 0.
		d.RetryAfter = max(ahead+t-window, 1)
		d.Reset = d.RetryAfter
	}
	return d
}

// Clock is the time source of a limiter, for tests: NowNano returns the
// current time in nanoseconds since the Unix epoch. An otter.Clock is a
// Clock, so one fake clock can drive a Local limiter and its cache.
type Clock interface {
	NowNano() int64
}
