package api

import (
	"net/http"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/problem"
)

// DomainRegistry is the replicated custom domain registry, read from this
// node's copy (the cluster node implements it).
type DomainRegistry interface {
	// DomainVerified tells whether a domain (in fsm.NormalizeDomain's
	// form) is registered and verified.
	DomainVerified(domain string) bool
	// Domain returns the registry's record of a domain.
	Domain(domain string) (fsm.DomainEntry, bool)
	// WorkspaceDomains returns the domains of a workspace, sorted.
	WorkspaceDomains(ws int64) []fsm.DomainEntry
}

// domainRoutes registers the custom domain routes (domainroutes.go). The
// on-demand TLS check tells nothing but whether a name is a verified
// custom domain of the instance, which any client could learn by trying a
// TLS handshake, so it is public; the rest is a workspace's admin's (or an
// instance admin's) and acts in the request's workspace.
func (h *Handler) domainRoutes() {
	h.handle("GET /api/v1/domains/allowed", public, h.domainAllowed)
	h.handle("POST /api/v1/domains", wsAdmin, h.createDomain)
	h.handle("GET /api/v1/domains", wsAdmin, h.listDomains)
	h.handle("GET /api/v1/domains/{domain}", wsAdmin, h.getDomain)
	h.handle("PATCH /api/v1/domains/{domain}", wsAdmin, h.updateDomain)
	h.handle("DELETE /api/v1/domains/{domain}", wsAdmin, h.deleteDomain)
	h.handle("POST /api/v1/domains/{domain}/verify", wsAdmin, h.verifyDomain)
}

// domainAllowed answers Caddy's on-demand TLS permission module (permission
// http): 200 when the domain may get a certificate, 404 when it may not.
// Unknown and unverified domains look alike, so that the answer does not
// tell which names are registered.
func (h *Handler) domainAllowed(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.spendClient(w, r, h.deps.DomainCheckLimiter, domainCheckBudget); !ok {
		return
	}
	vals, ok := apiquery.Params(w, r, []string{"domain"})
	if !ok {
		return
	}
	raw := vals.Get("domain")
	if raw == "" {
		problem.WriteField(w, http.StatusBadRequest, "domain", "the domain query parameter is required")
		return
	}
	domain, err := fsm.NormalizeDomain(raw)
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, "domain", err.Error())
		return
	}
	if h.deps.Domains == nil || !h.deps.Domains.DomainVerified(domain) {
		problem.Write(w, http.StatusNotFound, "no verified custom domain "+domain)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
