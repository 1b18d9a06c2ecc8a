package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/ratelimit"
	"github.com/shortify/shortify/internal/secret"
)

// The settings of password-protected links (password.go): link_cookie_key,
// password_cookie_lifetime, password_attempts, and their runtime state.

// Defaults of the password settings.
const (
	// DefaultPasswordCookieLifetime is how long the access cookie lets a
	// browser in without the password again.
	DefaultPasswordCookieLifetime = 24 * time.Hour
	// maxPasswordCookieLifetime is the longest lifetime browsers keep a
	// cookie for (RFC 6265bis caps Max-Age at 400 days).
	maxPasswordCookieLifetime = 400 * 24 * time.Hour
	// defaultPasswordLimitName names the attempts limit in the RateLimit
	// header fields.
	defaultPasswordLimitName = "password"
	// argonWait is how long a check waits for an argon2 slot before it
	// answers 503: a few checks' worth.
	argonWait = 250 * time.Millisecond
)

// DefaultPasswordAttempts is the attempts budget of a client on one link
// without password_attempts: 5 a minute, 5 at once. Only wrong passwords
// spend it. A person mistyping never meets it; a guesser gets 7,200
// guesses a day per address.
var DefaultPasswordAttempts = RateLimit{Requests: 5, Window: caddy.Duration(time.Minute), Burst: 5}

// argonSlots bounds the argon2 checks running at once in this process, to
// its CPUs: each takes a core and 19 MiB for its 20-40 ms, and more at once
// would only make every one of them slower (and the memory larger).
var argonSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// passwordState is the runtime state of the password gate, set by
// Provision.
type passwordState struct {
	key      []byte        // the cookie and CSRF key (linkCookieKey)
	lifetime time.Duration // of the access cookie
	clients  *limiters     // its resolver names the client (h.limits when set)
	limit    ratelimit.Limit
	local    *ratelimit.Local // pooled, so its buckets survive a reload
	shared   *ratelimit.Redis // nil without redis
	slots    chan struct{}    // argonSlots; tests set their own
	wait     time.Duration    // argonWait; tests set their own
	attempts passwordAttempts
}

// passwordAttempts are the children of shortify_edge_password_attempts_total.
type passwordAttempts struct{ ok, wrong, limited, csrf, busy counter }

// acquire takes an argon2 slot, waiting at most p.wait; it reports false
// when none freed up in time (or the client went away).
func (p *passwordState) acquire(ctx context.Context) bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// release gives back a slot acquire took.
func (p *passwordState) release() { <-p.slots }

// passwordAttemptsLimit is the attempts limit h runs with.
func (h *Handler) passwordAttemptsLimit() *RateLimit {
	if h.PasswordAttempts == nil {
		d := DefaultPasswordAttempts
		return &d
	}
	return h.PasswordAttempts
}

// provisionPassword builds h.pw; it runs after provisionLimits (whose
// client resolver it shares) and with VisitorKey already expanded.
func (h *Handler) provisionPassword(reg prometheus.Registerer) error {
	p := &passwordState{
		lifetime: time.Duration(cmpDuration(h.PasswordCookieLifetime, DefaultPasswordCookieLifetime)),
		slots:    argonSlots,
		wait:     argonWait,
	}
	h.PasswordCookieLifetime = caddy.Duration(p.lifetime)

	// The key: link_cookie_key, else derived from visitor_key (which every
	// edge shares already), else random to this process.
	secretKey := secret.Resolve(h.LinkCookieKey)
	h.LinkCookieKey = secretKey
	if err := secret.Check("link_cookie_key", secretKey); err != nil {
		return err
	}
	switch {
	case secretKey != "":
		p.key = linkCookieKey([]byte(secretKey))
	case h.VisitorKey != "":
		p.key = linkCookieKey([]byte(h.VisitorKey))
	default:
		h.logger.Warn("neither link_cookie_key nor visitor_key set: password-protected links use a random key of this process, so their cookies and forms work on this edge only, until it restarts; set link_cookie_key (or visitor_key) the same on every edge")
		p.key = linkCookieKey(processVisitorKey())
	}

	if h.limits != nil {
		p.clients = h.limits
	} else {
		res, err := clientip.NewResolver(h.TrustedProxies, h.IPv6Prefix, h.ClientIPHeader)
		if err != nil {
			return err
		}
		p.clients = &limiters{resolver: res}
	}

	c := h.passwordAttemptsLimit()
	p.limit = c.limit(defaultPasswordLimitName)
	key := "shortify/ratelimit/" + hashKey("password_attempts", p.limit.Rate, p.limit.Burst, p.limit.Name, c.MaxClients, h.hookKey())
	v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
		opts := ratelimit.LocalOptions{MaxKeys: c.MaxClients}
		if h.clock != nil {
			opts.Clock = h.clock
		}
		lim, err := ratelimit.NewLocal(p.limit, opts)
		if err != nil {
			return nil, err
		}
		return localLimiter{lim, new(atomic.Int64)}, nil
	})
	if err != nil {
		return fmt.Errorf("password_attempts: %w", err)
	}
	p.local = v.(localLimiter).Local
	if h.res != nil && h.res.redis != nil {
		opts := ratelimit.RedisOptions{Prefix: "shortify:ratelimit:edge:" + p.limit.Name + ":"}
		if h.clock != nil {
			opts.Clock = h.clock
		}
		if p.shared, err = ratelimit.NewRedis(h.res.redis, p.limit, opts); err != nil {
			return fmt.Errorf("password_attempts: %w", err)
		}
	}

	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "password_attempts_total",
		Help: "Password checks of password-protected links by outcome: ok, wrong, limited (429, attempts spent), csrf (403, bad form token), busy (503, no argon2 slot).",
	}, []string{"outcome"})
	if reg != nil {
		if err := register(reg, &vec); err != nil {
			return err
		}
	}
	c2 := func(o string) counter { return counter{vec.WithLabelValues(o)} }
	p.attempts = passwordAttempts{ok: c2("ok"), wrong: c2("wrong"), limited: c2("limited"), csrf: c2("csrf"), busy: c2("busy")}
	h.pw = p
	return nil
}

// validatePassword checks the password settings. A link_cookie_key still
// holding a placeholder is checked by Provision, once expanded.
func (h *Handler) validatePassword() []error {
	var errs []error
	if d := time.Duration(h.PasswordCookieLifetime); d != 0 && (d < time.Second || d > maxPasswordCookieLifetime) {
		errs = append(errs, fmt.Errorf("password_cookie_lifetime %s: want 1s to 400d (browsers keep cookies 400 days at most)", d))
	}
	if c := h.PasswordAttempts; c != nil {
		switch {
		case c.Off:
			errs = append(errs, errors.New("password_attempts: cannot be off (argon2 makes each guess cost, the limit makes guessing slow)"))
		case c.Shared:
			errs = append(errs, errors.New("password_attempts: shared is implied: the attempts are counted in Redis whenever the edge has redis"))
		default:
			if err := c.validate("password_attempts"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !strings.Contains(h.LinkCookieKey, "{") {
		if err := secret.Check("link_cookie_key", h.LinkCookieKey); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
