package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/ratelimit"
)

// DefaultAnonymousPerMinute is how many anonymous creates one client may
// make a minute unless configured.
const DefaultAnonymousPerMinute = 10

// DefaultReportPerMinute is how many abuse reports one client may send a
// minute unless configured.
const DefaultReportPerMinute = 5

// DefaultDomainCheckPerMinute is how many on-demand TLS checks (GET
// /api/v1/domains/allowed) one client may make a minute unless
// configured. The front door asks once per new host name it is sent, so
// the budget is generous for it and a bound for anyone else.
const DefaultDomainCheckPerMinute = 600

// clientLimiter limits a client's anonymous creates, abuse reports or
// domain checks (one instance each): through Redis when the node has it,
// so that the limit holds across control-plane nodes, with a local limiter
// of the same limit as the fallback while Redis fails (then each node
// admits the limit on its own, which bounds the damage).
type clientLimiter struct {
	shared ratelimit.Refunder // nil without Redis
	local  *ratelimit.Local
	log    *slog.Logger
}

// newClientLimiter is a clientLimiter of perMinute a client, named name in
// the limiter's errors and metrics.
func newClientLimiter(name string, perMinute int, svc *service, log *slog.Logger) (*clientLimiter, error) {
	l := ratelimit.Limit{Rate: float64(perMinute) / 60, Burst: perMinute, Name: name}
	local, err := ratelimit.NewLocal(l, ratelimit.LocalOptions{})
	if err != nil {
		return nil, fmt.Errorf("shortify: %s limit: %w", name, err)
	}
	a := &clientLimiter{local: local, log: log}
	if svc.redis != nil {
		if a.shared, err = ratelimit.NewRedis(svc.redis, l, ratelimit.RedisOptions{Prefix: "shortify:ratelimit:"}); err != nil {
			local.Close()
			return nil, fmt.Errorf("shortify: %s limit: %w", name, err)
		}
	}
	return a, nil
}

// Allow implements api.Limiter.
func (a *clientLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
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
func (a *clientLimiter) Refund(ctx context.Context, key string) error {
	if a.shared != nil {
		err := a.shared.Refund(ctx, key)
		if err == nil {
			return nil
		}
		a.log.Warn("shared rate limit unavailable; giving the create back on this node", "err", err)
	}
	return a.local.Refund(ctx, key)
}

func (a *clientLimiter) Close() { a.local.Close() }

// clientKeyFunc names a request's client for the limiter: its address,
// taken from forwarding headers only when the peer is a trusted proxy, and
// IPv6 clients by their /64.
func clientKeyFunc(trusted []string) (func(*http.Request) string, error) {
	key, _, err := clientFuncs(trusted)
	return key, err
}

// clientFuncs are clientKeyFunc and the client's own address (for the
// audit log and reports), from one resolver of the trusted proxies.
func clientFuncs(trusted []string) (key, addr func(*http.Request) string, err error) {
	res, err := clientip.NewResolver(trusted, 0, "")
	if err != nil {
		return nil, nil, fmt.Errorf("shortify: trusted_proxies: %w", err)
	}
	key = func(r *http.Request) string {
		ip, err := res.ClientIP(r)
		if err != nil {
			return r.RemoteAddr
		}
		return res.Key(ip)
	}
	addr = func(r *http.Request) string {
		ip, err := res.ClientIP(r)
		if err != nil {
			return r.RemoteAddr
		}
		return ip.String()
	}
	return key, addr, nil
}

// limiters adds the per-client limiters and the client functions to deps:
// the anonymous-create limit when anonymous_create is on, the report and
// domain-check limits and the workspaces' creates-per-minute limits always.
// closeLimiters undoes it, also after a failure.
func (a *App) limiters(svc *service, deps *api.Deps) (err error) {
	if deps.ClientKey, deps.ClientIP, err = clientFuncs(a.TrustedProxies); err != nil {
		return err
	}
	if a.AnonymousCreate {
		if a.anon, err = newClientLimiter("anonymous-create", a.AnonymousPerMinute, svc, a.logger); err != nil {
			return err
		}
		deps.AnonymousLimiter = a.anon
	}
	if a.reports, err = newClientLimiter("report", a.ReportPerMinute, svc, a.logger); err != nil {
		return err
	}
	deps.ReportLimiter = a.reports
	if a.domainChecks, err = newClientLimiter("domain-check", a.DomainCheckPerMinute, svc, a.logger); err != nil {
		return err
	}
	deps.DomainCheckLimiter = a.domainChecks
	a.creates = newCreateLimiters(svc, a.logger)
	deps.CreateLimiter = a.creates
	return nil
}

// closeLimiters closes the limiters limiters made.
func (a *App) closeLimiters() {
	if a.anon != nil {
		a.anon.Close()
		a.anon = nil
	}
	if a.reports != nil {
		a.reports.Close()
		a.reports = nil
	}
	if a.domainChecks != nil {
		a.domainChecks.Close()
		a.domainChecks = nil
	}
	if a.creates != nil {
		a.creates.Close()
		a.creates = nil
	}
}
