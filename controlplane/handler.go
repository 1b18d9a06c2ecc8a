package controlplane

import (
	"cmp"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/problem"
)

func init() {
	caddy.RegisterModule(APIHandler{})
	httpcaddyfile.RegisterHandlerDirective("shortify_api", parseAPIHandler)
	httpcaddyfile.RegisterDirectiveOrder("shortify_api", httpcaddyfile.Before, "reverse_proxy")
}

// APIHandler serves the control plane's REST API (/api/v1/…) in the
// process that runs the shortify app. Front doors without the app proxy
// /api/ to a control-plane node with reverse_proxy instead.
type APIHandler struct {
	app *App
	// startWait bounds how long a request waits for the app to start
	// (DefaultStartWait when zero).
	startWait time.Duration
}

// CaddyModule returns the Caddy module information.
func (APIHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.shortify_api",
		New: func() caddy.Module { return new(APIHandler) },
	}
}

// Provision finds the shortify app, which must be configured.
func (h *APIHandler) Provision(ctx caddy.Context) error {
	app, err := ctx.AppIfConfigured("shortify")
	if err != nil {
		return caddyfileHint(err)
	}
	h.app = app.(*App)
	return nil
}

// ServeHTTP answers API requests; it never calls next, so that an API path
// never falls through to the redirect handler. A request that arrives
// while the app starts waits for it, up to DefaultStartWait; then, or
// while the app stops, it gets 503 with Retry-After.
func (h *APIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	api := h.app.waitHandler(r.Context(), cmp.Or(h.startWait, DefaultStartWait))
	if api == nil {
		w.Header().Set("Retry-After", "2")
		problem.Write(w, http.StatusServiceUnavailable, "the control plane is not running yet (or any more); retry shortly")
		return nil
	}
	api.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	shortify_api
//
// It takes no arguments: the node is configured by the `shortify` global
// option.
func (h *APIHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("shortify_api takes no block: configure the node with the `shortify` global option")
	}
	return nil
}

func parseAPIHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(APIHandler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*APIHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*APIHandler)(nil)
	_ caddyfile.Unmarshaler       = (*APIHandler)(nil)
)
