package caddymodule

import "time"

// The L1 lifetime of a found link adapts to how often it is read
// (docs/architecture.md, "A redirect"), without a counter:
//
//   - a link loaded into L1 lives cache_ttl (T);
//   - a read in the last quarter of its lifetime shows that the code is
//     still wanted as its entry runs out: the lifetime, counted from the
//     load, grows fourfold, to 4T and then 16T, never past max_ttl;
//   - a code read rarely is seldom read in that last quarter and keeps T; a
//     code read every few seconds reaches 16T within its first 4T.
//
// So a hot code costs one lookup per max_ttl instead of one per cache_ttl,
// while a code read once is gone after T. The chance of promotion grows
// with the rate of reads: a code read at rate λ is promoted out of a
// lifetime L with probability 1 - exp(-λL/4).
//
// Staleness bound: the lifetime is counted from the load and never exceeds
// max_ttl (nor the link's own expiry), so an entry is never served more
// than max_ttl after it was read from Redis or the store. Invalidation (a
// link event) evicts a changed code within a second while the edge is
// connected; max_ttl is the bound when it is not. max_ttl equal to
// cache_ttl turns the adaptation off (and with it the calculator on the
// read path).
//
// The state this needs is the load time, in the entry's padding (born),
// and the deadline the L1 keeps anyway: no pointer, no counter to update
// on a hit, and an L1 hit writes nothing but the rare promotion (one CAS
// on the entry's deadline, done by the L1).

// bornEpoch is the zero of entry.born: whole seconds since then fit a
// uint32 until 2156.
var bornEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// bornAt returns the entry.born of a load at now (Unix ns), rounded down to
// the second, so that lifetimes counted from it end no later than those
// counted from the load.
func bornAt(now int64) uint32 {
	s := (now - bornEpoch) / int64(time.Second)
	switch {
	case s < 0:
		return 0
	case s > int64(^uint32(0)):
		return ^uint32(0)
	}
	return uint32(s)
}

// bornNano converts entry.born back to Unix nanoseconds.
func bornNano(born uint32) int64 { return bornEpoch + int64(born)*int64(time.Second) }

// promotionFactor is how much a promotion multiplies the lifetime:
// T, 4T, 16T.
const promotionFactor = 4

// DefaultMaxTTLFactor is max_ttl's default, in multiples of cache_ttl.
const DefaultMaxTTLFactor = 16

// l1Expiry holds the lifetimes of L1 entries: Lifetime and Extend are
// the L1's flatcache hooks.
type l1Expiry struct {
	cacheTTL, maxTTL, negativeTTL time.Duration
}

// newL1Expiry returns the lifetimes for the settings.
func newL1Expiry(cacheTTL, maxTTL, negativeTTL time.Duration) *l1Expiry {
	return &l1Expiry{cacheTTL: cacheTTL, maxTTL: max(maxTTL, cacheTTL), negativeTTL: negativeTTL}
}

// adaptive reports whether reads may extend lifetimes; when not (max_ttl
// equal to cache_ttl) the L1 does without Extend on the read path.
func (x *l1Expiry) adaptive() bool { return x.maxTTL > x.cacheTTL }

// Lifetime is the lifetime of a value stored at now: negativeTTL for an
// unknown code; cacheTTL for a link, but only until the link expires when
// that is sooner. A link that has already expired keeps cacheTTL: it stays
// a 410 until an invalidation or its deletion.
func (x *l1Expiry) Lifetime(e *entry, _ string, now int64) time.Duration {
	if e.state == stateUnknown {
		return x.negativeTTL
	}
	if e.expires != 0 {
		if left := time.Duration(e.expires - now); left > 0 && left < x.cacheTTL {
			return left
		}
	}
	return x.cacheTTL
}

// Extend is the promotion: the new deadline of an entry read at now, or
// deadline itself on all but the rare read that promotes.
func (x *l1Expiry) Extend(e *entry, now, deadline int64) int64 {
	if e.state == stateUnknown {
		return deadline
	}
	born := bornNano(e.born)
	life := deadline - born
	if life >= int64(x.maxTTL) || (deadline-now)*4 > life {
		return deadline // at max_ttl already, or not yet in the last quarter
	}
	next := born + min(life*promotionFactor, int64(x.maxTTL))
	if e.expires != 0 && next > e.expires {
		next = e.expires
	}
	return max(next, deadline)
}
