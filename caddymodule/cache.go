package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/internal/workspace"
)

// entry is the L1 value of one code besides its URL, which the L1 keeps
// next to it. It holds no pointer, so that a million of them cost the
// garbage collector nothing (docs/architecture.md, "The pointer-free L1";
// the L1 is a flatcache.Cache, which refuses value types with pointers).
type entry struct {
	linkID    int64  // the link's Snowflake ID, for click events
	workspace int64  // the link's workspace, for click events (never 0)
	expires   int64  // Unix nanoseconds when the link stops redirecting; 0: never
	status    uint16 // the link's own status; 0: the handler's default
	state     uint8  // stateUnknown, stateFound, stateDisabled or stateTakenDown
	flags     uint8  // flagSmart; in the byte the alignment left spare
	born      uint32 // when it was loaded, for the adaptive lifetime (ttl.go)
}

const (
	stateUnknown  uint8 = iota // no link has this code (a negative entry)
	stateFound                 // a link, which redirects unless expired
	stateDisabled              // a disabled link: 410
	// stateTakenDown: a link an administrator took down: 451. The L1 keeps
	// the takedown reason where a found link's URL goes (takedown.go).
	stateTakenDown
)

// flagSmart marks a smart link: its L1 string is a smartlink.Compiled
// (its Location and options) instead of the bare Location, and the
// request takes the smart path (smart.go). A plain link's hit tests this
// one bit and nothing more.
const flagSmart uint8 = 1

// entryOf converts a link to its L1 value (the URL goes beside it).
func entryOf(l linkstore.Link) entry {
	e := entry{linkID: l.ID, workspace: workspace.Of(l.WorkspaceID), status: uint16(l.Status), state: stateFound}
	switch {
	case l.TakenDown():
		e.state = stateTakenDown
	case l.Disabled:
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

// lookupTimeout bounds one load (Redis, then the store), so that a hung
// database answers 503 instead of holding requests until clients give up.
const lookupTimeout = 2 * time.Second

// redisWait bounds each Redis call of a request (the L2 read and fill,
// the shared rate limit), within lookupTimeout: while a Redis Cluster
// master is dead and before its replica takes over, the cluster client
// tries other nodes with back-off, which spent the whole lookup budget
// (the store then never answered: 503) and held even L1 hits on the
// shared rate limit for seconds (docs/faults.md, fault 4). Past it the
// request does without Redis, as for any Redis error.
const redisWait = 300 * time.Millisecond

// loadLink loads an L1 miss: L2, then the store, then fills L2. The L1
// runs at most one load per code at a time and hands its result to every
// request waiting for it, so the load must not end with the request that
// happened to start it: it runs on a context detached from that request,
// bounded by lookupTimeout. Loads of different codes at the same time
// share round trips: l2cache.Cache.Get pipelines concurrent GETs and
// pgstore.Store.Lookup batches concurrent lookups into one query
// (docs/decisions/0012-miss-batched-lookups.md); each keeps its own
// redisWait and lookupTimeout.
//
// Both bounds count from the load's start: the Redis read gets a
// context of its own deadline on the detached one, and the context of
// lookupTimeout is made only when the store is asked, so that a Redis
// hit (the common miss) pays for one timer, not two (issue 19's
// profile).
func (h *Handler) loadLink(reqCtx context.Context, key string) (e entry, url string, err error) {
	start := time.Now()
	base := context.WithoutCancel(reqCtx)
	domain, code := splitL1Key(key)               // "" on the own host (domains.go)
	base, span := h.startLoad(base, domain, code) // nil while tracing is off (tracing.go)
	tier := "none"                                // where the link came from, for the span
	if span != nil {
		defer func() { endLoad(span, tier, err) }()
	}
	deadline := start.Add(lookupTimeout)
	if h.l2 != nil {
		rctx, rcancel := context.WithDeadline(base, start.Add(min(redisWait, lookupTimeout)))
		l, ok, err := h.l2.Get(rctx, domain, code)
		rcancel()
		now := time.Now()
		h.stats.l2Latency.Observe(now.Sub(start).Seconds())
		switch {
		case err != nil && !now.Before(deadline):
			return entry{}, "", context.DeadlineExceeded // out of time; the store would be too
		case err != nil:
			h.stats.l2Errors.Inc()
			if ce := h.l2log.Check(zap.WarnLevel, "redis L2 read failed; using the store"); ce != nil {
				ce.Write(zap.Error(err), tracing.ZapField(base))
			}
		case ok:
			h.stats.l2Hits.Inc()
			tier = "l2"
			e, url := h.loaded("l2", l)
			return e, url, nil
		default:
			h.stats.l2Misses.Inc()
		}
	}

	ctx, cancel := context.WithDeadline(base, deadline)
	defer cancel()
	store, err := h.res.store.get(ctx)
	if err != nil {
		return entry{}, "", err
	}
	start = time.Now()
	l, err := h.lookup(ctx, store, key, domain, code) // Lookup, or the primary after an invalidation (invalidate.go)
	h.stats.storeLatency.Observe(time.Since(start).Seconds())
	if errors.Is(err, linkstore.ErrNotFound) {
		h.stats.storeMisses.Inc()
		return entry{state: stateUnknown}, "", nil
	}
	if err != nil {
		return entry{}, "", fmt.Errorf("shortify_edge: look up %s: %w", key, err)
	}
	h.stats.storeHits.Inc()
	if h.l2 != nil {
		// Fill only writes an absent key, so it cannot replace a fresher
		// write-through or a tombstone of a delete (see package l2cache).
		rctx, rcancel := context.WithTimeout(ctx, redisWait)
		_, err := h.l2.Fill(rctx, l)
		rcancel()
		if err != nil && ctx.Err() == nil {
			h.stats.l2Errors.Inc()
			if ce := h.l2log.Check(zap.WarnLevel, "redis L2 fill failed"); ce != nil {
				ce.Write(zap.Error(err), tracing.ZapField(ctx))
			}
		}
	}
	tier = "store"
	e, url = h.loaded("store", l)
	return e, url, nil
}

// loaded is the L1 value and Location of a link loaded now from tier (for
// a taken-down link, its takedown reason instead of a Location; for a
// smart link, its Compiled form, see loadedSmart). Its target passes the
// gate (target.go) here, once, on its way into the L1: a refused target
// makes a disabled entry (410) with no URL.
func (h *Handler) loaded(tier string, l linkstore.Link) (entry, string) {
	e := entryOf(l)
	e.born = bornAt(h.nowNano())
	if e.state == stateTakenDown {
		return e, l.TakedownReason // never a redirect: the URL is not kept
	}
	if !l.Smart.IsZero() {
		return h.loadedSmart(tier, l, e) // smart.go
	}
	if e.state != stateFound {
		return e, "" // a disabled link never redirects: its URL is not kept
	}
	loc, ok := h.gateTarget(tier, l)
	if !ok {
		e.state = stateDisabled
	}
	return e, loc
}
