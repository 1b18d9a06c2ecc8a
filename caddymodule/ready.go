package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/problem"
)

// readyDirective is the readiness endpoint's Caddyfile directive.
const readyDirective = "shortify_edge_ready"

func init() {
	caddy.RegisterModule(ReadyHandler{})
	httpcaddyfile.RegisterHandlerDirective(readyDirective, parseReadyCaddyfile)
	// Next to `respond /healthz` on the ops site; before respond so that a
	// catch-all respond there does not shadow it.
	httpcaddyfile.RegisterDirectiveOrder(readyDirective, httpcaddyfile.Before, "respond")
}

// ReadyHandler is the http.handlers.shortify_edge_ready module: the
// edge's readiness endpoint. It answers 200 "ready" once every warm start
// of the process's edges is over (done, or past its warm_timeout;
// warm.go) and each has loaded its custom domains once (or warm_timeout
// has passed: domains.go), and 503 with Retry-After before, so that a load
// balancer or a Kubernetes readinessProbe sends a new edge traffic only
// once its L1 holds the hot codes and it knows its custom domains. An edge without warm start is ready at once. It
// has no configuration; put it on the ops port:
//
//	shortify_edge_ready /readyz
type ReadyHandler struct {
	reg *warmRegistry // test hook; nil: warmups
	now func() time.Time
}

// CaddyModule returns the Caddy module information.
func (ReadyHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers." + readyDirective,
		New: func() caddy.Module { return new(ReadyHandler) },
	}
}

// parseReadyCaddyfile parses the shortify_edge_ready directive.
func parseReadyCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(ReadyHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile takes no arguments and no block. Syntax:
//
//	shortify_edge_ready [<matcher>]
func (r *ReadyHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("%s takes no arguments (got %q); a matcher such as /readyz goes before them", readyDirective, d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("%s takes no block", readyDirective)
	}
	return nil
}

var bodyReady = []byte("ready\n")

// ServeHTTP answers 200 when the edge is ready, else 503 with a problem
// document saying how far the warm start is.
func (r *ReadyHandler) ServeHTTP(w http.ResponseWriter, req *http.Request, _ caddyhttp.Handler) error {
	reg, now := r.reg, time.Now
	if reg == nil {
		reg = warmups
	}
	if r.now != nil {
		now = r.now
	}
	s := reg.status(now())
	hdr := w.Header()
	hdr["Cache-Control"] = ccNoStore
	if s.ready {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		hdr.Set("Content-Length", strconv.Itoa(len(bodyReady)))
		w.WriteHeader(http.StatusOK)
		if req.Method != http.MethodHead {
			_, _ = w.Write(bodyReady)
		}
		return nil
	}
	hdr.Set("Retry-After", "1")
	detail := fmt.Sprintf("warming the L1: %d of %d hot codes loaded", s.loaded, s.total)
	if s.domains {
		detail += "; loading the custom domains"
	}
	problem.Write(w, http.StatusServiceUnavailable, detail)
	return nil
}

// Interface guards.
var (
	_ caddyhttp.MiddlewareHandler = (*ReadyHandler)(nil)
	_ caddyfile.Unmarshaler       = (*ReadyHandler)(nil)
)
