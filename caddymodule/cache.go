package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/linkstore"
)

// entry is the L1 value of one code. It is kept small and nearly free of
// pointers on purpose: with a million entries, every pointer is one more
// word for the garbage collector to trace on each cycle, which shows in p99
// (DESIGN.md). It holds one string (the URL; empty for an unknown code),
// whose bytes are in the L1's arena (arena.go) like the key's, and small
// integers: 40 bytes, one pointer, no heap object of its own.
type entry struct {
	url     string // redirect target; "" when the code is unknown
	linkID  int64  // the link's Snowflake ID, for click events
	expires int64  // Unix nanoseconds when the link stops redirecting; 0: never
	status  uint16 // the link's own status; 0: the handler's default
	state   uint8  // stateUnknown, stateFound or stateDisabled
	born    uint32 // when it was loaded, for the adaptive lifetime (ttl.go)
}

const (
	stateUnknown  uint8 = iota // no link has this code (a negative entry)
	stateFound                 // a link, which redirects unless expired
	stateDisabled              // a disabled link: 410
)

// entryOf converts a link to its L1 value.
func entryOf(l linkstore.Link) entry {
	e := entry{url: l.URL, linkID: l.ID, status: uint16(l.Status), state: stateFound}
	if l.Disabled {
		e.state = stateDisabled
	}
	if !l.ExpiresAt.IsZero() {
		e.expires = unixNanoClamped(l.ExpiresAt)
	}
	return e
}

// unixNanoClamped is t in Unix nanoseconds, clamped to what an int64 holds
// (years 1678 to 2262): later means never in practice, earlier means long
// expired. It never returns 0, which means "no expiry".
func unixNanoClamped(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return 1
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1
}

var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, 1)
)

// expired reports whether e is a link that has stopped redirecting at now
// (Unix ns), with the same boundary as linkstore.Link.Expired.
func (e entry) expired(now int64) bool { return e.expires != 0 && now >= e.expires }

// loader loads an L1 miss: L2, then the store, then fills L2. otter runs at
// most one load per code at a time and hands its result to every waiter.
// It lives inside the Handler so that passing &h.load to otter does not
// allocate.
type loader struct{ h *Handler }

// lookupTimeout bounds one load (Redis, then the store), so that a hung
// database answers 503 instead of holding requests until clients give up.
const lookupTimeout = 2 * time.Second

// Load implements otter.Loader. Every request waiting for this code shares
// the load, so it must not end with the request that happened to start it:
// it runs on a context detached from that request, bounded by
// lookupTimeout.
func (ld *loader) Load(reqCtx context.Context, code string) (entry, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), lookupTimeout)
	defer cancel()
	h := ld.h
	if h.l2 != nil {
		start := time.Now()
		l, ok, err := h.l2.Get(ctx, code)
		h.stats.l2Latency.Observe(time.Since(start).Seconds())
		switch {
		case err != nil && ctx.Err() != nil:
			return entry{}, ctx.Err() // out of time; the store would be too
		case err != nil:
			h.stats.l2Errors.Inc()
			if ce := h.l2log.Check(zap.WarnLevel, "redis L2 read failed; using the store"); ce != nil {
				ce.Write(zap.Error(err))
			}
		case ok:
			h.stats.l2Hits.Inc()
			return h.loaded(l), nil
		default:
			h.stats.l2Misses.Inc()
		}
	}

	store, err := h.res.store.get(ctx)
	if err != nil {
		return entry{}, err
	}
	start := time.Now()
	l, err := h.lookup(ctx, store, code) // Lookup, or the primary after an invalidation (invalidate.go)
	h.stats.storeLatency.Observe(time.Since(start).Seconds())
	if errors.Is(err, linkstore.ErrNotFound) {
		h.stats.storeMisses.Inc()
		return entry{state: stateUnknown}, nil
	}
	if err != nil {
		return entry{}, fmt.Errorf("shortify: look up %s: %w", code, err)
	}
	h.stats.storeHits.Inc()
	if h.l2 != nil {
		// Fill only writes an absent key, so it cannot replace a fresher
		// write-through or a tombstone of a delete (see package l2cache).
		if _, err := h.l2.Fill(ctx, l); err != nil && ctx.Err() == nil {
			h.stats.l2Errors.Inc()
			if ce := h.l2log.Check(zap.WarnLevel, "redis L2 fill failed"); ce != nil {
				ce.Write(zap.Error(err))
			}
		}
	}
	return h.loaded(l), nil
}

// loaded is the L1 value of a link loaded now, its URL in the L1's arena.
func (h *Handler) loaded(l linkstore.Link) entry {
	l.URL = h.strs.intern(l.URL)
	e := entryOf(l)
	e.born = bornAt(h.nowNano())
	return e
}

// Reload implements otter.Loader. It is not used (no refresh is
// configured), but loads afresh if it ever is.
func (ld *loader) Reload(ctx context.Context, code string, _ entry) (entry, error) {
	return ld.Load(ctx, code)
}

// Interface guard.
var _ otter.Loader[string, entry] = (*loader)(nil)
