package caddymodule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/storedsn"
)

// Defaults of the optional fields.
const (
	DefaultRedisPrefix     = l2cache.DefaultPrefix
	DefaultRedisTTL        = 24 * time.Hour
	DefaultCacheSize       = 1_000_000
	DefaultCacheTTL        = time.Minute
	DefaultNegativeTTL     = 5 * time.Second
	DefaultStatus          = 302
	DefaultNotFound        = "404"
	DefaultPermanentMaxAge = time.Hour
)

// Provision expands placeholders, fills in defaults and takes the shared
// resources from the pool (building them when absent). It does not touch
// the network: the Redis client dials on first use and the store opens on
// the first lookup.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.logger == nil {
		h.logger = ctx.Logger(h)
	}
	if err := h.provisionTracing(ctx); err != nil { // tracing.go
		return err
	}
	// Redis failures are logged from the request path, where an outage
	// would log once per miss: keep the first of each message per second.
	h.l2log = h.logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 1, 0)
	}))

	// {env.*} and other global placeholders, so that DSNs with passwords
	// can come from the environment at run time instead of being baked
	// into the adapted JSON as Caddyfile {$VAR}s are.
	repl := caddy.NewReplacer()
	h.Database = repl.ReplaceKnown(h.Database, "")
	for i, dsn := range h.ReadReplicas {
		h.ReadReplicas[i] = repl.ReplaceKnown(dsn, "")
	}
	h.Redis = strings.TrimSpace(repl.ReplaceKnown(h.Redis, ""))
	h.RedisPrefix = repl.ReplaceKnown(h.RedisPrefix, "")
	h.RootRedirect = repl.ReplaceKnown(h.RootRedirect, "")
	h.expandEvents(repl) // and the defaults of the event settings (clicks.go)

	if h.RedisPrefix == "" {
		h.RedisPrefix = DefaultRedisPrefix
	}
	h.RedisTTL = cmpDuration(h.RedisTTL, DefaultRedisTTL)
	if h.CacheSize == 0 {
		h.CacheSize = DefaultCacheSize
	}
	h.CacheTTL = cmpDuration(h.CacheTTL, DefaultCacheTTL)
	h.MaxTTL = cmpDuration(h.MaxTTL, DefaultMaxTTLFactor*time.Duration(h.CacheTTL))
	h.NegativeTTL = cmpDuration(h.NegativeTTL, DefaultNegativeTTL)
	if h.DefaultStatus == 0 {
		h.DefaultStatus = DefaultStatus
	}
	if h.NotFound == "" {
		h.NotFound = DefaultNotFound
	}
	h.PermanentMaxAge = cmpDuration(h.PermanentMaxAge, DefaultPermanentMaxAge)

	// Resources are built from these values, so bad ones must stop here
	// rather than reach the L1 or go-redis; Validate reports the same.
	if err := h.Validate(); err != nil {
		return err
	}

	h.notFoundNext = h.NotFound == "next"
	if h.RootRedirect != "" {
		h.rootLocation = []string{h.RootRedirect}
	}
	h.permanentCC = []string{"public, max-age=" + strconv.FormatInt(int64(time.Duration(h.PermanentMaxAge)/time.Second), 10)}
	h.load = h.loadLink
	m, err := metricsFor(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	h.metrics = m
	h.stats = newStats(m)

	res, err := h.acquire()
	if err != nil {
		return err
	}
	h.res = res
	h.l1 = res.l1
	h.metrics.l1.add(h.l1)
	if res.redis != nil {
		h.l2 = l2cache.New(res.redis, h.RedisPrefix, time.Duration(h.RedisTTL))
	}
	if err := h.provisionLimits(); err != nil {
		return err
	}
	if err := h.provisionVisitors(); err != nil { // before events, which use them (clicks.go)
		return err
	}
	h.provisionClickLimit() // smart.go

	if err := h.provisionPassword(ctx.GetMetricsRegistry()); err != nil { // password_config.go
		return err
	}
	if err := h.provisionEvents(); err != nil {
		return err
	}
	if err := h.provisionBlocks(); err != nil {
		return err
	}
	if err := h.provisionDomains(); err != nil { // domains.go
		return err
	}
	if err := h.provisionInvalidation(); err != nil {
		return err
	}
	return h.provisionWarm(ctx.GetMetricsRegistry()) // last: it reads through h (warm.go)
}

// Validate checks the configuration. It does not connect to anything.
func (h *Handler) Validate() error {
	var errs []error
	if err := checkDSN(h.Database, len(h.ReadReplicas) > 0); err != nil {
		errs = append(errs, err)
	}
	for i, dsn := range h.ReadReplicas {
		if d, err := storedsn.Parse(dsn); err != nil || d.Dialect != storedsn.Postgres {
			errs = append(errs, fmt.Errorf("read_replicas[%d]: want a postgres:// or postgresql:// DSN", i))
		} else if _, err := pgxpool.ParseConfig(dsn); err != nil { // its errors redact passwords
			errs = append(errs, fmt.Errorf("read_replicas[%d]: %w", i, err))
		}
	}
	if l2cache.IsURL(h.Redis) {
		if _, err := l2cache.ParseURL(h.Redis); err != nil {
			errs = append(errs, err)
		}
	}
	if h.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("cache_size %d: must be positive", h.CacheSize))
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{
		{"redis_ttl", h.RedisTTL}, {"cache_ttl", h.CacheTTL}, {"max_ttl", h.MaxTTL},
		{"negative_ttl", h.NegativeTTL}, {"permanent_max_age", h.PermanentMaxAge},
		{"blocklist_refresh", h.BlocklistRefresh}, {"domain_refresh", h.DomainRefresh},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.name, time.Duration(d.v)))
		}
	}
	if h.PermanentMaxAge != 0 && time.Duration(h.PermanentMaxAge) < time.Second {
		errs = append(errs, fmt.Errorf("permanent_max_age %s: must be at least 1s (Cache-Control counts seconds)", time.Duration(h.PermanentMaxAge)))
	}
	if h.MaxTTL != 0 && h.MaxTTL < cmpDuration(h.CacheTTL, DefaultCacheTTL) {
		errs = append(errs, fmt.Errorf("max_ttl %s: must be at least cache_ttl", time.Duration(h.MaxTTL)))
	}
	switch h.DefaultStatus {
	case 0, 301, 302, 307, 308:
	default:
		errs = append(errs, fmt.Errorf("default_status %d: want 301, 302, 307 or 308", h.DefaultStatus))
	}
	switch h.NotFound {
	case "", "404", "next":
	default:
		errs = append(errs, fmt.Errorf("not_found %q: want 404 or next", h.NotFound))
	}
	if !strings.Contains(h.RootRedirect, "{") { // a placeholder is checked after Provision expands it
		if err := checkRootRedirect(h.RootRedirect); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := ownHostSet(h.Hosts); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, h.validateLimits()...)
	errs = append(errs, h.validateEvents()...)
	errs = append(errs, h.validatePassword()...)
	errs = append(errs, h.validateWarm()...)
	return errors.Join(errs...)
}

// Cleanup releases the handler's hold on the shared resources; the last
// handler to let go of one closes it. It is safe after a failed or partial
// Provision, and more than once.
func (h *Handler) Cleanup() error {
	h.cleanupEvents()
	h.cleanupInvalidation()
	h.cleanupTracing() // tracing.go
	if h.metrics != nil && h.l1 != nil {
		h.metrics.l1.remove(h.l1)
	}
	return h.release()
}

func checkDSN(dsn string, hasReplicas bool) error {
	d, err := storedsn.Parse(dsn)
	switch {
	case errors.Is(err, storedsn.ErrEmpty):
		return errors.New("database: required (postgres://…, postgresql://… or sqlite://PATH)")
	case errors.Is(err, storedsn.ErrUnsupported):
		// Not shown: a DSN that is not a URL may hold a password.
		return errors.New("database: want postgres://…, postgresql://… or sqlite://PATH")
	case err != nil:
		return fmt.Errorf("database: %w", err)
	case d.Dialect == storedsn.Postgres:
		if _, err := pgxpool.ParseConfig(dsn); err != nil {
			return fmt.Errorf("database: %w", err)
		}
	case hasReplicas:
		return errors.New("read_replicas: only for PostgreSQL")
	}
	return nil
}

func cmpDuration(v caddy.Duration, def time.Duration) caddy.Duration {
	if v == 0 {
		return caddy.Duration(def)
	}
	return v
}
