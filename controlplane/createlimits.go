package controlplane

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/ratelimit"
)

// newCreateLimiters builds the limiters of the workspaces' creates-per-
// minute limits (api.CreateLimiter), one per distinct limit: through Redis
// when the node has it, so that every control-plane node spends one
// budget per workspace, with a local limiter of the same limit as the
// fallback while Redis fails (then each node admits the limit on its own,
// which bounds the damage), as the per-client limiters do.
func newCreateLimiters(svc *service, log *slog.Logger) *api.LimiterSet {
	return api.NewLimiterSet(func(l ratelimit.Limit) (ratelimit.Refunder, func(), error) {
		local, err := ratelimit.NewLocal(l, ratelimit.LocalOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("shortify: workspace creates limit: %w", err)
		}
		f := &fallbackLimiter{local: local, log: log}
		if svc.redis != nil {
			if f.shared, err = ratelimit.NewRedis(svc.redis, l, ratelimit.RedisOptions{Prefix: "shortify:ratelimit:"}); err != nil {
				local.Close()
				return nil, nil, fmt.Errorf("shortify: workspace creates limit: %w", err)
			}
		}
		return f, local.Close, nil
	})
}

// fallbackLimiter is a shared (Redis) limiter with a local one of the same
// limit that answers while the shared one fails.
type fallbackLimiter struct {
	shared ratelimit.Refunder // nil without Redis
	local  *ratelimit.Local
	log    *slog.Logger
}

// Allow implements ratelimit.Limiter.
func (f *fallbackLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	if f.shared != nil {
		d, err := f.shared.Allow(ctx, key)
		if err == nil {
			return d, nil
		}
		f.log.Warn("shared rate limit unavailable; limiting the workspace's creates on this node alone", "err", err)
	}
	return f.local.Allow(ctx, key)
}

// Refund implements ratelimit.Refunder; as clientLimiter's, a refund while
// Redis fails or recovers may go to the other limiter, which costs at most
// one create of the budget.
func (f *fallbackLimiter) Refund(ctx context.Context, key string) error {
	if f.shared != nil {
		err := f.shared.Refund(ctx, key)
		if err == nil {
			return nil
		}
		f.log.Warn("shared rate limit unavailable; giving the create back on this node", "err", err)
	}
	return f.local.Refund(ctx, key)
}
