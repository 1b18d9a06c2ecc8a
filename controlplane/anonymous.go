package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/ratelimit"
)

// DefaultAnonymousPerMinute is how many anonymous creates one client may
// make a minute unless configured.
const DefaultAnonymousPerMinute = 10

// anonLimiter limits anonymous creates per client: through Redis when the
// node has it, so that the limit holds across control-plane nodes, with a
// local limiter of the same limit as the fallback while Redis fails (then
// each node admits the limit on its own, which bounds the damage).
type anonLimiter struct {
	shared ratelimit.Refunder // nil without Redis
	local  *ratelimit.Local
	log    *slog.Logger
}

func newAnonLimiter(perMinute int, svc *service, log *slog.Logger) (*anonLimiter, error) {
	l := ratelimit.Limit{Rate: float64(perMinute) / 60, Burst: perMinute, Name: "anonymous-create"}
	local, err := ratelimit.NewLocal(l, ratelimit.LocalOptions{})
	if err != nil {
		return nil, fmt.Errorf("shortify: anonymous create limit: %w", err)
	}
	a := &anonLimiter{local: local, log: log}
	if svc.redis != nil {
		if a.shared, err = ratelimit.NewRedis(svc.redis, l, ratelimit.RedisOptions{Prefix: "shortify:ratelimit:"}); err != nil {
			local.Close()
			return nil, fmt.Errorf("shortify: anonymous create limit: %w", err)
		}
	}
	return a, nil
}

// Allow implements api.Limiter.
func (a *anonLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if a.shared != nil {
		d, err := a.shared.Allow(ctx, key)
		if err == nil {
			return d.Allowed, d.RetryAfter, nil
		}
		a.log.Warn("shared rate limit unavailable; limiting anonymous creates on this node alone", "err", err)
	}
	d, err := a.local.Allow(ctx, key)
	return d.Allowed, d.RetryAfter, err
}

// Refund implements api.Limiter: it gives a create back to the limiter
// that counted it. While Redis fails, Allow counted it locally and the
// refund goes there too; should Redis fail or recover between the two
// calls, the wrong one gets the refund, which costs at most one create of
// that client's budget either way.
func (a *anonLimiter) Refund(ctx context.Context, key string) error {
	if a.shared != nil {
		err := a.shared.Refund(ctx, key)
		if err == nil {
			return nil
		}
		a.log.Warn("shared rate limit unavailable; giving the create back on this node", "err", err)
	}
	return a.local.Refund(ctx, key)
}

func (a *anonLimiter) Close() { a.local.Close() }

// clientKeyFunc names a request's client for the limiter: its address,
// taken from forwarding headers only when the peer is a trusted proxy, and
// IPv6 clients by their /64.
func clientKeyFunc(trusted []string) (func(*http.Request) string, error) {
	res, err := clientip.NewResolver(trusted, 0, "")
	if err != nil {
		return nil, fmt.Errorf("shortify: trusted_proxies: %w", err)
	}
	return func(r *http.Request) string {
		ip, err := res.ClientIP(r)
		if err != nil {
			return r.RemoteAddr
		}
		return res.Key(ip)
	}, nil
}
