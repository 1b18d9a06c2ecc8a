// Package handler is the shortify_stats Caddy HTTP handler: it serves the
// stats REST API (/api/v1/stats/…, package stats/api) and the dashboard
// (/dashboard/…, package stats/dashboard), and passes every other request
// to the next handler.
//
// It runs in the process of the control plane's `shortify` app and
// authenticates API keys against that app's replicated key ring, so that
// the stats API takes exactly the keys and roles of the control plane and
// a revoked key stops working at once, with no copy of the keys, no extra
// call and no cache. (A stats front door without the app would verify keys
// with the control plane over HTTP, caching answers briefly; it is not
// built, because every deployment in deploy/ runs the API handler and the
// app together, and an in-process lookup has nothing to go stale.)
package handler

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/dashboard"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("shortify_stats", parseCaddyfile)
	// Before respond, and so before shortify_api (ordered before
	// reverse_proxy), which never calls next: in one route the stats
	// paths reach this handler first, and it passes the rest on.
	httpcaddyfile.RegisterDirectiveOrder("shortify_stats", httpcaddyfile.Before, "respond")
}

// openTimeout bounds connecting to the stats database.
const openTimeout = 15 * time.Second

// stores holds the stats database connections by DSN, so that a config
// reload keeps them.
var stores = caddy.NewUsagePool()

// ControlPlane is what the handler takes from the shortify app of the same
// config (*controlplane.App has it): the key ring the API authenticates
// with, the workspace and link registry it scopes requests by, and the
// default stats database. An interface, so that stats does
// not depend on the control plane.
type ControlPlane interface {
	// WaitKeys returns the replicated key ring, waiting (bounded) while
	// the app starts; nil when it did not start in time, is stopping, or
	// ctx ended.
	WaitKeys(ctx context.Context) apiauth.KeyLookup
	// WaitStatsDirectory returns the workspace registry and the link
	// lookup that the API scopes requests by (the app's Raft node and
	// link store), waiting as WaitKeys does; nil when WaitKeys would be.
	WaitStatsDirectory(ctx context.Context) api.Directory
	// StatsDSN returns the stats database's DSN.
	StatsDSN() string
}

// Handler serves the stats API and the dashboard.
type Handler struct {
	// Database is the stats database's DSN, postgres://… or sqlite://PATH.
	// Default: the shortify app's stats_database.
	Database string `json:"database,omitempty"`

	app   ControlPlane
	dsn   string
	api   *api.Handler
	dash  *dashboard.Handler
	owned bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.shortify_stats",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the shortify app (for the key ring and the default
// database) and takes a share of the stats database's connections, which
// open on first use.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := ctx.AppIfConfigured("shortify")
	if err != nil {
		return fmt.Errorf("shortify_stats: needs the shortify app in the same config (the `shortify` global option), whose API keys it checks: %w", err)
	}
	cp, ok := app.(ControlPlane)
	if !ok {
		return fmt.Errorf("shortify_stats: the shortify app (%T) has no key ring", app)
	}
	h.app = cp
	h.dsn = h.Database
	if h.dsn == "" {
		h.dsn = h.app.StatsDSN()
	}
	if h.dsn == "" {
		return fmt.Errorf("shortify_stats: no stats database (set database, or stats_database in the shortify app)")
	}
	v, _, err := stores.LoadOrNew(h.dsn, func() (caddy.Destructor, error) {
		return &lazyStore{dsn: h.dsn}, nil
	})
	if err != nil {
		return fmt.Errorf("shortify_stats: %w", err)
	}
	h.owned = true
	h.api, err = api.New(api.Config{Logger: ctx.Slogger()}, api.Deps{
		Store:     v.(*lazyStore),
		Keys:      h.keys,
		Directory: h.app.WaitStatsDirectory,
	})
	if err != nil {
		return fmt.Errorf("shortify_stats: %w", err)
	}
	h.dash = dashboard.New()
	return nil
}

// keys is the app's key ring: a request that arrives while the app starts
// waits for it (as the control plane's API does), then nil.
func (h *Handler) keys(ctx context.Context) apiauth.KeyLookup { return h.app.WaitKeys(ctx) }

// Cleanup lets go of the stats database's connections; it works after a
// failed Provision too.
func (h *Handler) Cleanup() error {
	if !h.owned {
		return nil
	}
	h.owned = false
	_, err := stores.Delete(h.dsn)
	return err
}

// ServeHTTP serves /api/v1/stats/… and /dashboard…; other paths go to
// next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, api.Prefix):
		h.api.ServeHTTP(w, r)
	case p == strings.TrimSuffix(dashboard.Prefix, "/") || strings.HasPrefix(p, dashboard.Prefix):
		h.dash.ServeHTTP(w, r)
	default:
		return next.ServeHTTP(w, r)
	}
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	shortify_stats {
//		database <dsn>
//	}
//
// Without a block it reads the stats database of the shortify global
// option. A database given without a value (as `database
// {$SHORTIFY_STATS_DATABASE}` is when the variable is unset) keeps that
// default.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "database":
			args := d.RemainingArgs()
			switch {
			case len(args) == 0 || (len(args) == 1 && args[0] == ""):
			case len(args) == 1:
				h.Database = args[0]
			default:
				return d.ArgErr()
			}
		default:
			return d.Errf("shortify_stats: unknown subdirective %q (want database)", d.Val())
		}
	}
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
