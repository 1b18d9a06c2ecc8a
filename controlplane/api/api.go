// Package api is the control plane's REST API: JSON in, JSON out, every
// error an RFC 9457 problem document. It validates everything before it
// changes anything, so a bad request never leaves state behind.
package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/webhooks"
)

// Issuer hands out link identities: Snowflake IDs and generated codes. The
// control plane's Raft node implements it from its leased worker ID and
// sequence blocks.
type Issuer interface {
	NewID() (int64, error)
	NextCode() (string, error)
}

// LinkCache is the shared L2 cache that creates write through and deletes
// clear, so edges see a new link at once and a deleted one soon.
type LinkCache interface {
	Set(ctx context.Context, l linkstore.Link) error
	// Delete tombstones the link with code on domain ("" for the
	// instance's own host).
	Delete(ctx context.Context, domain, code string) error
}

// Creator inserts one new link; see package batch.
type Creator interface {
	Create(ctx context.Context, l linkstore.Link) error
}

// Config is the API's behaviour.
type Config struct {
	// PublicURL is the base of the short URLs returned (e.g.
	// "https://sho.rt"); required. Short URLs never follow a request's
	// Host header, which the client chooses.
	PublicURL string
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// call the API from a browser, writes included; preflights are
	// answered for them only. Empty: no cross-origin browser calls, and
	// writes a browser marks as cross-site are refused.
	CORSOrigins []string
	// MaxConcurrentBulk bounds the bulk creates this node decodes and
	// runs at once (default DefaultMaxConcurrentBulk); more get 503 with
	// Retry-After.
	MaxConcurrentBulk int
	// MaxBulkPasswords bounds the links with a password in one bulk
	// create (default DefaultMaxBulkPasswords; see passwords.go).
	MaxBulkPasswords int
	// Targets is the policy for target URLs. The host of PublicURL is
	// added to its OwnHosts.
	Targets targeturl.Policy
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// AnonymousCreate lets POST /api/v1/links go without an API key, rate
	// limited per client by Deps.AnonymousLimiter.
	AnonymousCreate bool
	// FlagLookalike accepts targets on look-alike hosts (Targets does not
	// refuse them) and flags their links for review (lookalike_hosts
	// flag).
	FlagLookalike bool
	// Logger receives operational logs (nil: slog.Default()).
	Logger *slog.Logger
	// OutboundAllowPrivate lets webhook endpoints name private
	// addresses and localhost (the shortify app's outbound_allow_private;
	// see checkWebhookURL).
	OutboundAllowPrivate bool
	// WorkspaceDefaults are the limits of a workspace whose own limit is
	// 0 (fsm.WorkspaceLimits; a default of 0 is no limit).
	WorkspaceDefaults fsm.WorkspaceLimits
}

// Deps are the services the API drives.
type Deps struct {
	Store  linkstore.Store
	Issuer Issuer
	// Cache is optional.
	Cache LinkCache
	// Creator, when set, inserts single creates (a batcher that groups
	// concurrent creates into multi-row inserts); nil: Store.Create.
	Creator Creator
	// Blocklist is the replicated domain blocklist (nil: only the
	// configured blocked_domains apply).
	Blocklist Blocklist
	// Keys authenticates API keys; without it only public routes (and
	// anonymous creates, when on) answer.
	Keys Keys
	// AnonymousLimiter limits anonymous creates per client (nil: no limit).
	AnonymousLimiter Limiter
	// ClientKey names the client of a request for the limiter (nil: the
	// peer address).
	ClientKey func(*http.Request) string
	// Ready reports whether the node can serve writes (nil: always).
	Ready func(ctx context.Context) error
	// Cluster is the Raft node behind the /api/v1/cluster routes
	// (nil: they answer 503).
	Cluster ClusterNode
	// Partitions administers the stats database's partitions behind the
	// /api/v1/admin/partitions routes (nil: they answer 503).
	Partitions PartitionAdmin
	// PartitionPolicy is the replicated partition policy behind
	// /api/v1/admin/partitions/policy (nil: it answers 503).
	PartitionPolicy PartitionPolicyStore
	// Events receives a link event after every successful create (single
	// and bulk), update and delete (nil: no events are published).
	Events LinkEvents
	// Creates counts link creates by kind and outcome (nil: not counted).
	Creates CreateObserver
	// Audit records every write (nil: none are recorded); AuditLog serves
	// GET /api/v1/admin/audit (nil: it answers 503). See audit.go.
	Audit    AuditRecorder
	AuditLog AuditLog
	// Reports stores abuse reports (nil: the report routes answer 503);
	// ReportLimiter limits them per client (nil: no limit). See
	// reports.go.
	Reports       ReportStore
	ReportLimiter Limiter
	// ClientIP is a request's client address as the trusted-proxy
	// settings see it, for the audit log and reports (nil: the peer's).
	ClientIP func(*http.Request) string
	// Threats is the shared block set (threat feeds and the admin
	// blocklist), refused at create and update (nil: only Blocklist).
	Threats ThreatList
	// Domains is the custom domain registry behind GET
	// /api/v1/domains/allowed (nil: every domain is refused);
	// DomainCheckLimiter limits those checks per client (nil: no limit).
	Domains            DomainRegistry
	DomainCheckLimiter Limiter
	// Reviews holds the links flagged for review, shown in the link JSON
	// and under /api/v1/admin/review (nil: those routes answer 503).
	Reviews ReviewStore
	// Workspaces is the workspace registry that the Shortify-Workspace
	// header is resolved against (nil: only the default workspace).
	Workspaces WorkspaceDirectory
	// CreateLimiter enforces the workspaces' creates-per-minute limits
	// (see limits.go; nil: they are not enforced).
	CreateLimiter CreateLimiter
	// WorkspaceAdmin writes the workspace registry behind
	// /api/v1/workspaces (nil: those routes answer 503).
	WorkspaceAdmin WorkspaceAdmin
	// DomainAdmin writes the custom domain registry behind the
	// /api/v1/domains routes (nil: their writes answer 503);
	// DomainVerifier looks the DNS challenges up (nil:
	// domainverify.Verifier with the system resolver).
	DomainAdmin    DomainAdmin
	DomainVerifier DomainVerifier
	// Titles fetches the titles of links created without one, in the
	// background (nil: titles are not fetched).
	Titles TitleFetcher
	// Webhooks keeps the workspaces' webhook endpoints and their delivery
	// logs behind /api/v1/webhooks (nil: those routes answer 503).
	Webhooks webhooks.Store
}

// Handler serves the API under /api/v1/.
type Handler struct {
	cfg       Config
	deps      Deps
	mux       *http.ServeMux
	log       *slog.Logger
	routeList []route
	// bulkSlots holds one token per bulk create running (see
	// MaxConcurrentBulk).
	bulkSlots chan struct{}
	// hashSlots holds one token per password being hashed: one per core
	// (see hashPassword).
	hashSlots chan struct{}
}

// New builds the API handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Store == nil || deps.Issuer == nil {
		return nil, errors.New("api: a store and an issuer are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// trace_id on the records logged with a request's context (tracing.go)
	cfg.Logger = tracing.Logger(cfg.Logger)
	if cfg.PublicURL == "" {
		return nil, errors.New("api: a public URL is required: short URLs must not follow the Host header a client sends")
	}
	host, err := publicHost(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	cfg.Targets.OwnHosts = append(append([]string(nil), cfg.Targets.OwnHosts...), host)
	origins := make([]string, 0, len(cfg.CORSOrigins))
	for _, o := range cfg.CORSOrigins {
		if err := CheckCORSOrigin(o); err != nil {
			return nil, err
		}
		origins = append(origins, strings.TrimSuffix(o, "/"))
	}
	cfg.CORSOrigins = origins
	cfg.MaxConcurrentBulk = cmp.Or(cfg.MaxConcurrentBulk, DefaultMaxConcurrentBulk)
	cfg.MaxBulkPasswords = cmp.Or(cfg.MaxBulkPasswords, DefaultMaxBulkPasswords)
	h := &Handler{cfg: cfg, deps: deps, log: cfg.Logger, mux: http.NewServeMux(),
		bulkSlots: make(chan struct{}, cfg.MaxConcurrentBulk),
		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	h.handle("POST /api/v1/links", anonCreate, h.createLink)
	h.handle("GET /api/v1/links", viewer, h.listLinks)
	h.handle("POST /api/v1/links/bulk", creator, h.createBulk)
	h.handle("GET /api/v1/links/{code}", viewer, h.getLink)
	h.handle("PATCH /api/v1/links/{code}", creator, h.updateLink)
	h.handle("DELETE /api/v1/links/{code}", creator, h.deleteLink)
	h.handle("GET /api/v1/links/{code}/qr", viewer, h.getQR)
	h.handle("GET /api/v1/admin/keys", wsAdmin, h.listKeys)
	h.handle("POST /api/v1/admin/keys", wsAdmin, h.createKey)
	h.handle("DELETE /api/v1/admin/keys/{id}", wsAdmin, h.revokeKey)
	h.handle("GET /api/v1/admin/blocklist", admin, h.listBlocked)
	h.handle("PUT /api/v1/admin/blocklist/{domain}", admin, h.setBlocked(true))
	h.handle("DELETE /api/v1/admin/blocklist/{domain}", admin, h.setBlocked(false))
	h.handle("GET /api/v1/healthz", public, h.healthz)
	h.handle("GET /api/v1/readyz", public, h.readyz)
	h.handle("GET /api/v1/openapi.json", public, h.openAPI)
	h.clusterRoutes()
	h.partitionRoutes()
	h.auditRoutes()
	h.reportRoutes()
	h.reviewRoutes()
	h.takedownRoutes()
	h.domainRoutes()
	h.workspaceRoutes()
	h.tagRoutes()
	h.webhookRoutes()
}

// ServeHTTP implements http.Handler. Unknown routes and wrong methods get
// problem documents too, not the mux's plain-text answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		if allowed := h.allowedMethods(r); allowed != "" {
			w.Header().Set("Allow", allowed)
			problem.Write(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allowed)
			return
		}
		problem.Write(w, http.StatusNotFound, "no API route "+r.URL.Path)
		return
	}
	r, end := traceRoute(r, pattern) // tracing.go
	defer end()
	if h.deps.Audit != nil && isWrite(r.Method) {
		h.serveAudited(w, r, pattern)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// allowedMethods lists the methods that have a route for r's path.
func (h *Handler) allowedMethods(r *http.Request) string {
	var allowed string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "" {
			if allowed != "" {
				allowed += ", "
			}
			allowed += m
		}
	}
	return allowed
}
