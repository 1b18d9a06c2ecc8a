package caddymodule

import (
	"math"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkstore"
)

// ttlHandler provisions a handler with one link on a fake clock, with
// cache_ttl 1m and the given max_ttl, and returns a function that reads
// the link at an offset from the first load and returns the lookups made
// so far.
func ttlHandler(t *testing.T, maxTTL time.Duration, link linkstore.Link) (read func(at time.Duration) int64, code string) {
	t.Helper()
	if link.Code == "" {
		link.Code = newCode(t, "ttl")
	}
	dsn := seededDSN(t, link)
	open, count := counting()
	clock := newFakeClock()
	h := provision(t, &Handler{Database: dsn, CacheTTL: caddy.Duration(time.Minute), MaxTTL: caddy.Duration(maxTTL),
		openStore: open, clock: clock})
	start := clock.NowNano()
	return func(at time.Duration) int64 {
		t.Helper()
		clock.nanos.Store(start + int64(at))
		if w, err := serve(h, "GET", "/"+link.Code, nil); err != nil || (w.Code != 302 && w.Code != 404 && w.Code != 410) {
			t.Fatalf("read at %v: %d %v", at, w.Code, err)
		}
		return lookups(count)
	}, link.Code
}

// step is one read at an offset from the first load and the number of
// lookups expected after it.
type step struct {
	at      time.Duration
	lookups int64
}

func runSteps(t *testing.T, read func(time.Duration) int64, steps []step) {
	t.Helper()
	for _, s := range steps {
		if got := read(s.at); got != s.lookups {
			t.Fatalf("read at %v: %d lookups so far, want %d", s.at, got, s.lookups)
		}
	}
}

// A code read late in each lifetime climbs T, 4T, 16T and stops at
// max_ttl, counted from its load: it is never served past max_ttl.
func TestAdaptiveTTLHotCode(t *testing.T) {
	t.Parallel()
	read, _ := ttlHandler(t, 16*time.Minute, linkstore.Link{URL: "https://example.com/hot"})
	runSteps(t, read, []step{
		{0, 1},
		{50 * time.Second, 1},               // last quarter of 1m: now 4m
		{2 * time.Minute, 1},                // alive thanks to the promotion
		{3*time.Minute + 10*time.Second, 1}, // last quarter of 4m: now 16m
		{10 * time.Minute, 1},
		{15*time.Minute + 50*time.Second, 1}, // at max_ttl: no further
		{16*time.Minute + 1*time.Second, 2},  // max_ttl after the load: reloaded
		{16*time.Minute + 2*time.Second, 2},  // ... and T again from there
		{17*time.Minute + 3*time.Second, 3},
	})
}

// A code read only early in its lifetime keeps cache_ttl.
func TestAdaptiveTTLColdCode(t *testing.T) {
	t.Parallel()
	read, _ := ttlHandler(t, 16*time.Minute, linkstore.Link{URL: "https://example.com/cold"})
	runSteps(t, read, []step{
		{0, 1},
		{30 * time.Second, 1}, // half-way: no promotion
		{61 * time.Second, 2}, // gone after cache_ttl
	})
}

// max_ttl equal to cache_ttl fixes the lifetime.
func TestAdaptiveTTLOff(t *testing.T) {
	t.Parallel()
	read, _ := ttlHandler(t, time.Minute, linkstore.Link{URL: "https://example.com/fixed"})
	runSteps(t, read, []step{{0, 1}, {55 * time.Second, 1}, {61 * time.Second, 2}})
}

// A promotion never keeps a link past its own expiry.
func TestAdaptiveTTLLinkExpiry(t *testing.T) {
	t.Parallel()
	read, _ := ttlHandler(t, 16*time.Minute, linkstore.Link{URL: "https://example.com/soon", ExpiresAt: time.Now().Add(90 * time.Second)})
	runSteps(t, read, []step{
		{0, 1},
		{50 * time.Second, 1}, // promoted, but only to the link's expiry
		{91 * time.Second, 2}, // expired: loaded again (now a 410)
	})
}

// Unknown codes keep negative_ttl however often they are asked for.
func TestAdaptiveTTLNegative(t *testing.T) {
	t.Parallel()
	open, count := counting()
	clock := newFakeClock()
	h := provision(t, &Handler{Database: sqliteDSN(t), NegativeTTL: caddy.Duration(5 * time.Second), MaxTTL: caddy.Duration(time.Hour),
		openStore: open, clock: clock})
	c := newCode(t, "none")
	start := clock.NowNano()
	for _, s := range []step{{0, 1}, {4500 * time.Millisecond, 1}, {5100 * time.Millisecond, 2}} {
		clock.nanos.Store(start + int64(s.at))
		if w, _ := serve(h, "GET", "/"+c, nil); w.Code != 404 {
			t.Fatalf("unknown code: %d", w.Code)
		}
		if got := lookups(count); got != s.lookups {
			t.Fatalf("at %v: %d lookups, want %d", s.at, got, s.lookups)
		}
	}
}

func TestBornAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 999_999_999, time.UTC).UnixNano()
	if got := bornNano(bornAt(now)); got > now || now-got >= int64(time.Second) {
		t.Fatalf("born %d for load at %d: want the second it started", got, now)
	}
	if bornAt(0) != 0 || bornAt(math.MaxInt64) != ^uint32(0) {
		t.Fatal("bornAt does not clamp")
	}
}
