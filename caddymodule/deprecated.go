package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// deprecatedDirective is the edge handler's old Caddyfile directive. It
// is also the name of the control plane's global option, so a config, a
// log line or an error that said "shortify" did not say which part it
// meant; it keeps working for one release, with a warning.
const deprecatedDirective = "shortify"

// DeprecatedHandler is http.handlers.shortify, the edge handler's old
// module ID (Caddyfile directive `shortify` inside a site block): a
// Handler under its old name, kept for one release so that configs
// written for the previous one still run. Provision logs a deprecation
// warning; everything else, including the JSON fields, is Handler's.
// Use http.handlers.shortify_edge (directive `shortify_edge`).
type DeprecatedHandler struct {
	Handler
}

// CaddyModule returns the Caddy module information of the old name.
func (DeprecatedHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers." + deprecatedDirective,
		New: func() caddy.Module { return new(DeprecatedHandler) },
	}
}

// Provision warns that the name is deprecated, then provisions the
// Handler, which logs under its own name (http.handlers.shortify_edge)
// from then on.
func (h *DeprecatedHandler) Provision(ctx caddy.Context) error {
	ctx.Logger(h).Warn("deprecated: the edge handler's directive `shortify` (module http.handlers.shortify) is now `shortify_edge` (http.handlers.shortify_edge), with the same subdirectives; the old name will be removed in the next release",
		zap.String("use", directive))
	return h.Handler.Provision(ctx)
}

// parseDeprecatedCaddyfile parses the old directive into the old module,
// so that an old Caddyfile adapts to the same JSON as before.
func parseDeprecatedCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(DeprecatedHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*DeprecatedHandler)(nil)
	_ caddy.Validator             = (*DeprecatedHandler)(nil)
	_ caddy.CleanerUpper          = (*DeprecatedHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*DeprecatedHandler)(nil)
)
