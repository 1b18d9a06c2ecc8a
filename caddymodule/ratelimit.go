package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/ratelimit"
)

// RateLimit is one per-client limit of the handler: Requests per Window
// sustained (GCRA, see package ratelimit), with bursts of up to Burst.
//
// The limits of a handler apply to the requests that handler answers, so a
// route that needs other limits gets a shortify block of its own (behind
// its own matcher). Limiters with the same settings, name and max_clients
// share their buckets, across handlers and across config reloads: give two
// routes different names to count them apart.
type RateLimit struct {
	// Requests is how many requests a client may send per Window,
	// sustained. Required (at least 1).
	Requests int `json:"requests,omitempty"`
	// Window is the period Requests are counted over. Required.
	Window caddy.Duration `json:"window,omitempty"`
	// Burst is how many requests a quiet client may send at once.
	// Default: Requests.
	Burst int `json:"burst,omitempty"`
	// Name names the limit in the RateLimit and RateLimit-Policy header
	// fields. Default: "redirects" for rate_limit, "misses" for
	// miss_limit.
	Name string `json:"name,omitempty"`
	// Shared makes the limit hold, approximately, across every edge
	// sharing the Redis; it needs redis. Each request is still decided
	// in memory, by the edge's own bucket (never more than the limit from
	// one edge), which also holds what the edge last learned from Redis;
	// every SyncInterval the edge sends its clients' counts to Redis in
	// one pipeline and learns the shared state of those clients
	// (ratelimit.Synced). A client that the edges together pushed past
	// the limit is then refused by each of them until the shared bucket
	// has room again. Between syncs the edges do not see each other's
	// requests: a client sending to N edges at once may get up to about
	// N × rate × SyncInterval requests beyond the limit, plus one burst
	// (each edge's bucket starts full), before it is refused; what was
	// served is recorded, so it then waits until the excess is paid back.
	// While Redis fails or is slow, each edge limits on its own with the
	// same limit (fail open to the local limiter), and the requests whose
	// counts could not be sent are counted in
	// shortify_edge_rate_limit_errors_total. Only for rate_limit: the miss
	// budget is always local.
	Shared bool `json:"shared,omitempty"`
	// SyncInterval is the time between two syncs of a shared limit with
	// Redis (Caddyfile: `sync <duration>`), from 1ms to 10s; only with
	// Shared. Shorter holds the limit closer across edges, at the cost
	// of more pipelines. Default: 100ms.
	SyncInterval caddy.Duration `json:"sync_interval,omitempty"`
	// MaxClients bounds the number of clients whose state the local
	// limiter keeps (about 140 bytes each); beyond it the rarest are
	// forgotten and start again from a full bucket. Default: 1000000.
	MaxClients int `json:"max_clients,omitempty"`
	// Off turns the limit off explicitly (Caddyfile: `miss_limit off`),
	// for miss_limit, which is on by default; no other field may be set.
	Off bool `json:"off,omitempty"`
}

// DefaultMissLimit is the miss budget of a handler without miss_limit:
// 20 misses a second per client, 40 at once. A client following real
// links never gets near it, and neither does a NAT or a proxy without
// trusted_proxies that many real clients share; a client guessing codes
// gets 40 lookups and then one every 50 ms instead of as many as it can
// send, and every request beyond costs a 429 from memory, with no store
// lookup and no negative L1 entry pushing real links out. It is the
// value of deploy/'s edge. `miss_limit off` turns it off.
var DefaultMissLimit = RateLimit{Requests: 20, Window: caddy.Duration(time.Second), Burst: 40}

// missLimit is the miss budget h runs with: its own, the default, or nil
// when turned off.
func (h *Handler) missLimit() *RateLimit {
	switch {
	case h.MissLimit == nil:
		d := DefaultMissLimit
		return &d
	case h.MissLimit.Off:
		return nil
	}
	return h.MissLimit
}

// Default names of the two limits.
const (
	defaultRateLimitName = "redirects"
	defaultMissLimitName = "misses"
)

// limit converts r to a ratelimit.Limit.
func (r *RateLimit) limit(defaultName string) ratelimit.Limit {
	l := ratelimit.Limit{Burst: r.Burst, Name: r.Name}
	if l.Burst == 0 {
		l.Burst = r.Requests
	}
	if l.Name == "" {
		l.Name = defaultName
	}
	if w := time.Duration(r.Window); w > 0 {
		l.Rate = float64(r.Requests) / w.Seconds()
	}
	return l
}

// validate checks r; what names the subdirective in errors.
func (r *RateLimit) validate(what string) error {
	if r.Off {
		if *r != (RateLimit{Off: true}) {
			return fmt.Errorf("%s: off takes no other setting", what)
		}
		return nil
	}
	switch {
	case r.Requests < 1:
		return fmt.Errorf("%s: requests %d: want at least 1", what, r.Requests)
	case r.Window <= 0:
		return fmt.Errorf("%s: window %s: want a positive duration", what, time.Duration(r.Window))
	case r.Burst < 0:
		return fmt.Errorf("%s: burst %d: want at least 1", what, r.Burst)
	case r.MaxClients < 0:
		return fmt.Errorf("%s: max_clients %d: want at least 1", what, r.MaxClients)
	case r.SyncInterval != 0 && !r.Shared:
		return fmt.Errorf("%s: sync needs shared", what)
	case r.SyncInterval != 0 && (r.SyncInterval < caddy.Duration(minSyncInterval) || r.SyncInterval > caddy.Duration(maxSyncInterval)):
		return fmt.Errorf("%s: sync %s: want from %s to %s", what, time.Duration(r.SyncInterval), minSyncInterval, maxSyncInterval)
	}
	if err := r.limit("x").Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// limiters is the runtime state of the handler's limits: nil when neither
// is configured.
type limiters struct {
	resolver *clientip.Resolver

	rate      *ratelimit.Local // nil without rate_limit
	rateLimit ratelimit.Limit
	shared    *ratelimit.Synced // nil unless rate_limit is shared; then rate is its Local

	miss      *ratelimit.Local // nil without miss_limit
	missLimit ratelimit.Limit
	// missEmpty is the miss limiter's, shared with every handler that
	// uses it: until when (Unix ns) some client may have no misses left;
	// 0 when none can. Before it, a request must look its client up
	// (missBudgetSpent); otherwise no client can be out of budget, so a
	// request that needs no rate_limit skips finding out who its client
	// is, and even reading the clock: the default miss limit costs an L1
	// hit one atomic load until someone runs out of misses.
	missEmpty *atomic.Int64
}

// needClient reports whether a request must know its client before the
// lookup: for rate_limit, or for a miss budget that some client may have
// spent. Small enough to be inlined: the slow part is missWindowOpen.
func (h *Handler) needClient() bool {
	l := h.limits
	return l.rate != nil || l.miss != nil && l.missEmpty.Load() != 0 && h.missWindowOpen()
}

// missWindowOpen reports whether the window in which some client may be
// out of misses is still open.
func (h *Handler) missWindowOpen() bool {
	l := h.limits
	until := l.missEmpty.Load()
	if until == 0 {
		return false
	}
	if h.nowNano() < until {
		return true
	}
	// The window has passed: back to skipping the clock too (a client
	// that runs out meanwhile sets a new one; losing that race only
	// means one more look at the clock).
	l.missEmpty.CompareAndSwap(until, 0)
	return false
}

// localLimiter makes a Local limiter a caddy.Destructor for the pool.
type localLimiter struct {
	*ratelimit.Local
	empty *atomic.Int64 // see limiters.missEmpty
}

// Destruct drops the limiter's state.
func (l localLimiter) Destruct() error {
	l.Close()
	return nil
}

// provisionLimits builds h.limits from the configuration (nil when no limit
// is set). The local limiters come from the pool, so that their buckets
// survive a reload.
func (h *Handler) provisionLimits() error {
	rateLimit, missLimit := h.RateLimit, h.missLimit()
	if rateLimit != nil && rateLimit.Off {
		rateLimit = nil
	}
	if rateLimit == nil && missLimit == nil {
		return nil
	}
	res, err := clientip.NewResolver(h.TrustedProxies, h.IPv6Prefix, h.ClientIPHeader)
	if err != nil {
		return err
	}
	lims := &limiters{resolver: res}
	hooks := h.hookKey()
	local := func(kind string, c *RateLimit, l ratelimit.Limit) (*ratelimit.Local, error) {
		key := "shortify/ratelimit/" + hashKey(kind, l.Rate, l.Burst, l.Name, c.MaxClients, hooks)
		v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
			opts := ratelimit.LocalOptions{MaxKeys: c.MaxClients}
			if h.clock != nil {
				opts.Clock = h.clock
			}
			lim, err := ratelimit.NewLocal(l, opts)
			if err != nil {
				return nil, err
			}
			return localLimiter{lim, new(atomic.Int64)}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		ll := v.(localLimiter)
		if kind == "miss_limit" {
			lims.missEmpty = ll.empty
		}
		return ll.Local, nil
	}
	if c := rateLimit; c != nil {
		lims.rateLimit = c.limit(defaultRateLimitName)
		if c.Shared {
			if lims.shared, err = h.syncedLimiter(c, lims.rateLimit); err != nil {
				return fmt.Errorf("rate_limit: %w", err)
			}
			lims.rate = lims.shared.Local()
		} else if lims.rate, err = local("rate_limit", c, lims.rateLimit); err != nil {
			return err
		}
	}
	if c := missLimit; c != nil {
		lims.missLimit = c.limit(defaultMissLimitName)
		if lims.miss, err = local("miss_limit", c, lims.missLimit); err != nil {
			return err
		}
	}
	h.limits = lims
	return nil
}

// validateLimits checks the rate-limit settings.
func (h *Handler) validateLimits() []error {
	var errs []error
	if h.RateLimit != nil {
		if err := h.RateLimit.validate("rate_limit"); err != nil {
			errs = append(errs, err)
		}
		if h.RateLimit.Shared && h.Redis == "" {
			errs = append(errs, errors.New("rate_limit: shared needs redis"))
		}
	}
	if h.MissLimit != nil {
		if err := h.MissLimit.validate("miss_limit"); err != nil {
			errs = append(errs, err)
		}
		if h.MissLimit.Shared {
			errs = append(errs, errors.New("miss_limit: shared is not supported (the miss budget is kept by each edge)"))
		}
	}
	if _, err := clientip.NewResolver(h.TrustedProxies, h.IPv6Prefix, h.ClientIPHeader); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// clientKey returns the rate-limit key of r's client: its address (IPv6
// by prefix), taken from the forwarding header only when the peer is a
// trusted proxy. A request without an IP peer (a Unix socket) is keyed by
// its RemoteAddr, so that it is limited all the same.
func (l *limiters) clientKey(r *http.Request) string {
	ip, err := l.resolver.ClientIP(r)
	if err != nil {
		return r.RemoteAddr
	}
	return l.resolver.Key(ip)
}

// allow counts r against the request limit; a refusal writes the 429 and
// returns false. Without a rate_limit it allows everything.
func (h *Handler) allow(ctx context.Context, w http.ResponseWriter, r *http.Request, key string) bool {
	l := h.limits
	if l.rate == nil {
		return true
	}
	// Both decide from memory; a shared limit's Redis is its goroutine's
	// business (ratelimit_shared.go).
	var d ratelimit.Decision
	if l.shared != nil {
		d, _ = l.shared.Allow(ctx, key)
	} else {
		d, _ = l.rate.Allow(ctx, key)
	}
	if d.Allowed {
		return true
	}
	h.tooMany(w, r, d, l.rateLimit, h.stats.limitedRequests)
	return false
}

// missBudgetSpent reports whether r's client has no misses left; it then
// writes the 429. It spends nothing: only misses do (spendMiss).
func (h *Handler) missBudgetSpent(w http.ResponseWriter, r *http.Request, key string) bool {
	l := h.limits
	if l.miss == nil {
		return false
	}
	d := l.miss.Peek(key)
	if d.Allowed {
		return false
	}
	h.tooMany(w, r, d, l.missLimit, h.stats.limitedMisses)
	return true
}

// spendMiss counts a miss (an answer of 404) against r's client; when the
// budget has no room for it, it writes a 429 instead of the 404 and
// returns false.
func (h *Handler) spendMiss(w http.ResponseWriter, r *http.Request, key string) bool {
	l := h.limits
	if l == nil || l.miss == nil {
		return true
	}
	d, _ := l.miss.Allow(r.Context(), key)
	if d.Remaining == 0 {
		// The bucket is empty until its next miss refills (d.Reset); a
		// second more covers the limiter's clock (monotonic) drifting
		// from the handler's (wall) one.
		until := h.nowNano() + int64(d.Reset) + int64(time.Second)
		for {
			old := l.missEmpty.Load()
			if old >= until || l.missEmpty.CompareAndSwap(old, until) {
				break
			}
		}
	}
	if d.Allowed {
		return true
	}
	h.tooMany(w, r, d, l.missLimit, h.stats.limitedMisses)
	return false
}

// bodyTooMany is the 429's problem document.
var (
	bodyTooMany = []byte(`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"this client sent too many requests; retry after the time in Retry-After"}` + "\n")
	lenTooMany  = []string{strconv.Itoa(len(bodyTooMany))}
)

// tooMany answers 429 with Retry-After and the RateLimit header fields of
// the limit that refused the request, and counts it under by.
func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, d ratelimit.Decision, l ratelimit.Limit, by counter) {
	h.stats.limited.Inc()
	by.Inc()
	d.WriteHeaders(w.Header(), l)
	_ = plain(w, r, http.StatusTooManyRequests, bodyTooMany, lenTooMany)
}
