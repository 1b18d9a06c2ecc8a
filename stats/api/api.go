// Package api is the stats REST API: JSON (and CSV) reads of the click
// aggregates that the stats ingest writes, under /api/v1/stats/. Every
// route but the OpenAPI document needs an API key of the viewer role or
// above, checked against the control plane's replicated key ring; every
// error is an RFC 9457 problem document. The API only reads: its database
// connections are read-only.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/problem"
)

// Prefix is the path under which the API's routes live.
const Prefix = "/api/v1/stats/"

// Config is the API's behaviour.
type Config struct {
	// Now is the clock of the default ranges (nil: time.Now).
	Now func() time.Time
	// Logger receives database failures (nil: slog.Default()).
	Logger *slog.Logger
}

// Deps are the services the API reads.
type Deps struct {
	// Store reads the aggregates.
	Store Store
	// Keys is the control plane's key ring; a func because the key ring
	// of a Caddy app comes and goes with its config, and it may wait
	// (bounded by ctx and its own limit) while the control plane starts
	// (nil, or a nil result: every key is refused with 503).
	Keys func(ctx context.Context) apiauth.KeyLookup
	// Directory is the control plane's workspace and link registry that
	// requests are scoped by; a func for the same reason as Keys (nil:
	// none, so only the default workspace is known by name and per-link
	// routes find links by their statistics; a nil result: 503).
	Directory func(ctx context.Context) Directory
}

// Handler serves the stats API.
type Handler struct {
	cfg       Config
	deps      Deps
	mux       *http.ServeMux
	log       *slog.Logger
	routeList []RouteInfo
}

// RouteInfo describes a registered route.
type RouteInfo struct {
	// Pattern is the method and path, as http.ServeMux takes it.
	Pattern string
	// Access is "public" or "viewer".
	Access string
}

// New builds the handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Store == nil {
		return nil, errors.New("stats api: a store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, deps: deps, log: cfg.Logger, mux: http.NewServeMux()}
	h.handle("GET /api/v1/stats/overview", true, h.overview)
	h.handle("GET /api/v1/stats/top/{dimension}", true, h.topAll)
	h.handle("GET /api/v1/stats/links/{code}", true, h.linkStats)
	h.handle("GET /api/v1/stats/links/{code}/top/{dimension}", true, h.topLink)
	h.handle("GET /api/v1/stats/links/{code}/series.csv", true, h.linkCSV)
	h.handle("GET /api/v1/stats/workspace", true, h.workspace)
	h.handle("GET /api/v1/stats/openapi.json", false, h.openAPI)
	return h, nil
}

// Routes lists every route, in registration order.
func (h *Handler) Routes() []RouteInfo { return append([]RouteInfo(nil), h.routeList...) }

// handle registers fn at pattern, behind the viewer check when auth.
func (h *Handler) handle(pattern string, auth bool, fn http.HandlerFunc) {
	access := "public"
	if auth {
		access = string(apikey.Viewer)
	}
	h.routeList = append(h.routeList, RouteInfo{Pattern: pattern, Access: access})
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !auth {
			fn(w, r)
			return
		}
		rec, ok := h.allowed(w, r)
		if !ok {
			return
		}
		if r, ok = h.actAs(w, r, rec); ok {
			fn(w, r)
		}
	})
}

// ServeHTTP implements http.Handler. Unknown routes and other methods
// than GET and HEAD get problem documents, not the mux's plain text.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		probe := r.Clone(r.Context())
		probe.Method = http.MethodGet
		if _, p := h.mux.Handler(probe); p != "" {
			w.Header().Set("Allow", "GET, HEAD")
			problem.Write(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+"; the stats API only reads (GET, HEAD)")
			return
		}
		problem.Write(w, http.StatusNotFound, "no stats API route "+r.URL.Path)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// allowed checks for a viewer key (or above), answering 400, 401, 403 or
// 503 itself when there is none (apiauth.Check).
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request) (apiauth.KeyRecord, bool) {
	var keys apiauth.KeyLookup
	if h.deps.Keys != nil {
		keys = h.deps.Keys(r.Context())
	}
	return apiauth.Check(w, r, keys, apikey.Viewer, "the stats API")
}

// query parses and checks the query string against the parameters
// allowed, answering 400 itself.
func (h *Handler) query(w http.ResponseWriter, r *http.Request, allowed []string) (Query, bool) {
	v, ok := apiquery.Params(w, r, allowed)
	if !ok {
		return Query{}, false
	}
	q, perr := ParseQuery(v, h.cfg.Now())
	if perr != nil {
		problem.WriteField(w, http.StatusBadRequest, perr.Param, perr.Msg)
		return Query{}, false
	}
	return q, true
}

// pathDimension reads and checks the {dimension} path argument of a
// per-link route (perLink) or of the route over every link.
func pathDimension(w http.ResponseWriter, r *http.Request, perLink bool) (string, bool) {
	d := r.PathValue("dimension")
	switch {
	case validDimension(d, perLink):
		return d, true
	case validDimension(d, true):
		problem.WriteField(w, http.StatusNotFound, "dimension",
			fmt.Sprintf("%q is a dimension of one link (GET /api/v1/stats/links/{code}/top/%s); over every link the dimensions are referrer, country, device, browser, os and status", d, d))
	case perLink:
		problem.WriteField(w, http.StatusNotFound, "dimension",
			fmt.Sprintf("%q is not a dimension; the dimensions of a link are referrer, country, device, browser, os, status and variant", d))
	default:
		problem.WriteField(w, http.StatusNotFound, "dimension",
			fmt.Sprintf("%q is not a dimension; the dimensions are referrer, country, device, browser, os and status", d))
	}
	return "", false
}

// failed answers a database failure: 503, the cause logged, not shown.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left; nobody reads the answer
	}
	h.log.Error("stats API: database read failed", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	problem.Write(w, http.StatusServiceUnavailable, "the stats database is unavailable; retry shortly")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(v)
}
