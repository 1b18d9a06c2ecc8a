package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
)

// DomainAdmin writes the replicated custom domain registry (the cluster
// node proposes the FSM's domain commands; a follower forwards them to
// the leader, which checks that the caller's key may act on the domain's
// workspace).
type DomainAdmin interface {
	// AddDomain registers a domain, not verified; fsm.ErrDomainTaken when
	// another workspace holds it, fsm.ErrDomainExists when this one does.
	AddDomain(ctx context.Context, c fsm.AddDomain) (fsm.DomainEntry, error)
	// VerifyDomain marks a domain of the workspace verified.
	VerifyDomain(ctx context.Context, c fsm.VerifyDomain) (fsm.DomainEntry, error)
	// SetDomainSettings replaces a domain's settings.
	SetDomainSettings(ctx context.Context, c fsm.SetDomainSettings) (fsm.DomainEntry, error)
	// DeleteDomain removes a domain of the workspace.
	DeleteDomain(ctx context.Context, c fsm.DeleteDomain) (fsm.DomainEntry, error)
}

// DomainVerifier looks a domain's challenge up in DNS
// (domainverify.Verifier, with the configured resolver). Its errors wrap
// domainverify.ErrNoRecord, ErrWrongValue or ErrResolver.
type DomainVerifier interface {
	// Verify reports whether the domain's TXT record carries challenge.
	Verify(ctx context.Context, domain, challenge string) error
}

// DomainChallenge is the DNS record that proves control of a domain.
type DomainChallenge struct {
	// Type is always "TXT".
	Type string `json:"type"`
	// Name is the record's name, _shortify-challenge.DOMAIN.
	Name string `json:"name"`
	// Value is the record's value.
	Value string `json:"value"`
}

// DomainInfo is a custom domain as the API shows it.
type DomainInfo struct {
	Domain           string          `json:"domain"`
	Workspace        int64           `json:"workspace"`
	Verified         bool            `json:"verified"`
	Challenge        DomainChallenge `json:"challenge"`
	CreatedAt        time.Time       `json:"created_at"`
	VerifiedAt       *time.Time      `json:"verified_at,omitempty"`
	RootRedirect     string          `json:"root_redirect,omitempty"`
	NotFoundRedirect string          `json:"not_found_redirect,omitempty"`
	RedirectStatus   int             `json:"redirect_status,omitempty"`
}

// CreateDomainRequest is the body of POST /api/v1/domains.
type CreateDomainRequest struct {
	Domain string `json:"domain"`
}

// UpdateDomainRequest is the body of PATCH /api/v1/domains/{domain}: the
// fields given change, the others stay. An empty redirect removes it.
type UpdateDomainRequest struct {
	RootRedirect     *string `json:"root_redirect,omitempty"`
	NotFoundRedirect *string `json:"not_found_redirect,omitempty"`
	RedirectStatus   *int    `json:"redirect_status,omitempty"`
	// Verified true marks the domain verified without the DNS check: an
	// instance admin's call only.
	Verified *bool `json:"verified,omitempty"`
}

func domainInfo(d fsm.DomainEntry) DomainInfo {
	out := DomainInfo{
		Domain: d.Domain, Workspace: d.Workspace, Verified: d.Verified,
		Challenge:    DomainChallenge{Type: "TXT", Name: domainverify.RecordName(d.Domain), Value: domainverify.RecordValue(d.Challenge)},
		CreatedAt:    time.UnixMilli(d.CreatedMs).UTC(),
		RootRedirect: d.Settings.RootRedirect, NotFoundRedirect: d.Settings.NotFoundRedirect, RedirectStatus: d.Settings.RedirectStatus,
	}
	if d.Verified {
		t := time.UnixMilli(d.VerifiedMs).UTC()
		out.VerifiedAt = &t
	}
	return out
}

// domainWriter answers 503 when the API has no domain registry to write.
func (h *Handler) domainWriter(w http.ResponseWriter) bool {
	return have(w, h.deps.Domains != nil && h.deps.DomainAdmin != nil, "custom domain registry")
}

// reservedHost tells whether d is one of the instance's own host names
// (the public URL's, own_domains) or below one: those are never a
// workspace's.
func (h *Handler) reservedHost(d string) bool {
	for _, own := range h.cfg.Targets.OwnHosts {
		o, err := fsm.NormalizeDomain(own)
		if err != nil {
			o = strings.TrimSuffix(strings.ToLower(own), ".")
		}
		if d == o || strings.HasSuffix(d, "."+o) {
			return true
		}
	}
	return false
}

func (h *Handler) createDomain(w http.ResponseWriter, r *http.Request) {
	if !h.domainWriter(w) {
		return
	}
	var req CreateDomainRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	d, err := fsm.NormalizeDomain(strings.TrimSpace(req.Domain))
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, "domain", "domain must be a host name such as go.example.com: "+err.Error())
		return
	}
	if h.reservedHost(d) {
		problem.WriteField(w, http.StatusConflict, "domain", d+" is this instance's own host name (or below it), which no workspace can register")
		return
	}
	ws := callerOf(r).homeWorkspace()
	if limits, name := h.workspaceLimits(ws); limits.MaxDomains > 0 {
		if n := int64(len(h.deps.Domains.WorkspaceDomains(ws))); n >= limits.MaxDomains {
			problem.Write(w, http.StatusForbidden, fmt.Sprintf("workspace %s holds %d custom domains, its limit", name, n))
			return
		}
	}
	challenge, err := domainverify.NewChallenge()
	if err != nil {
		h.unavailable(w, "make a challenge", err)
		return
	}
	entry, err := h.deps.DomainAdmin.AddDomain(r.Context(), fsm.AddDomain{Domain: d, Workspace: ws, Challenge: challenge, AtMs: h.cfg.Now().UnixMilli()})
	if err != nil {
		h.registryFailed(w, "add the domain", err)
		return
	}
	h.log.Info("custom domain added", "domain", d, "workspace", ws)
	w.Header().Set("Location", "/api/v1/domains/"+d)
	writeJSON(w, http.StatusCreated, domainInfo(entry))
}

func (h *Handler) listDomains(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.Domains != nil, "custom domain registry") {
		return
	}
	c := callerOf(r)
	var all []fsm.DomainEntry
	if c.workspace != 0 {
		all = h.deps.Domains.WorkspaceDomains(c.workspace)
	} else if h.deps.WorkspaceAdmin != nil {
		// An instance admin over every workspace.
		for _, ws := range h.deps.WorkspaceAdmin.Workspaces() {
			all = append(all, h.deps.Domains.WorkspaceDomains(ws.ID)...)
		}
	} else {
		all = h.deps.Domains.WorkspaceDomains(c.homeWorkspace())
	}
	out := make([]DomainInfo, 0, len(all))
	for _, d := range all {
		out = append(out, domainInfo(d))
	}
	writeJSON(w, http.StatusOK, map[string][]DomainInfo{"domains": out})
}

// pathDomain finds the {domain} of the path among the domains the caller
// sees, or answers 400 (not a domain name) or 404 (unknown, or another
// workspace's: alike).
func (h *Handler) pathDomain(w http.ResponseWriter, r *http.Request) (fsm.DomainEntry, bool) {
	if !have(w, h.deps.Domains != nil, "custom domain registry") {
		return fsm.DomainEntry{}, false
	}
	raw := r.PathValue("domain")
	d, err := fsm.NormalizeDomain(raw)
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, "domain", "not a domain name: "+err.Error())
		return fsm.DomainEntry{}, false
	}
	entry, ok := h.deps.Domains.Domain(d)
	if !ok || !callerOf(r).sees(entry.Workspace) {
		problem.Write(w, http.StatusNotFound, "no custom domain "+d)
		return fsm.DomainEntry{}, false
	}
	return entry, true
}

func (h *Handler) getDomain(w http.ResponseWriter, r *http.Request) {
	if d, ok := h.pathDomain(w, r); ok {
		writeJSON(w, http.StatusOK, domainInfo(d))
	}
}

// deleteDomain deletes a custom domain. While links live on it, it is
// refused (409) unless ?delete_links=true retires them first: a domain
// that another workspace registers later must not bring its old links
// back to life.
func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, []string{"delete_links"})
	if !ok {
		return
	}
	if !h.domainWriter(w) {
		return
	}
	d, ok := h.pathDomain(w, r)
	if !ok {
		return
	}
	empty, ok := apiquery.Bool(w, vals, "delete_links")
	if !ok {
		return
	}
	onIt := linkstore.ListQuery{WorkspaceID: d.Workspace, Domain: d.Domain}
	if !empty {
		q := onIt
		q.Limit = 1
		held, err := h.deps.Store.List(r.Context(), q)
		if err != nil {
			h.storeFailed(w, "look for the domain's links", err)
			return
		}
		if len(held) > 0 {
			problem.Write(w, http.StatusConflict, fmt.Sprintf("links live on %s; delete them first, or add ?delete_links=true to delete them with the domain", d.Domain))
			return
		}
	} else if err := h.retireLinks(r.Context(), onIt); err != nil {
		h.storeFailed(w, "delete the domain's links", err)
		return
	}
	if _, err := h.deps.DomainAdmin.DeleteDomain(r.Context(), fsm.DeleteDomain{Domain: d.Domain, Workspace: d.Workspace}); err != nil {
		h.registryFailed(w, "delete the domain", err)
		return
	}
	h.log.Info("custom domain deleted", "domain", d.Domain, "workspace", d.Workspace)
	w.WriteHeader(http.StatusNoContent)
}

// verifyDomain looks the domain's TXT challenge up and marks it verified
// when found; a verified domain is answered as it is.
func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request) {
	if !h.domainWriter(w) {
		return
	}
	d, ok := h.pathDomain(w, r)
	if !ok {
		return
	}
	if d.Verified {
		writeJSON(w, http.StatusOK, domainInfo(d))
		return
	}
	var v DomainVerifier = domainverify.Verifier{}
	if h.deps.DomainVerifier != nil {
		v = h.deps.DomainVerifier
	}
	name, value := domainverify.RecordName(d.Domain), domainverify.RecordValue(d.Challenge)
	if err := v.Verify(r.Context(), d.Domain, d.Challenge); err != nil {
		switch {
		case errors.Is(err, domainverify.ErrNoRecord):
			problem.Write(w, http.StatusUnprocessableEntity, fmt.Sprintf("expected a TXT record %s with the value %q; found no TXT record there (DNS changes may take a while to show)", name, value))
		case errors.Is(err, domainverify.ErrWrongValue):
			problem.Write(w, http.StatusUnprocessableEntity, fmt.Sprintf("expected a TXT record %s with the value %q; found TXT records there, none with that value: %v", name, value, err))
		case errors.Is(err, context.Canceled):
		default:
			h.log.WarnContext(r.Context(), "domain verification lookup failed", "domain", d.Domain, "err", err)
			w.Header().Set("Retry-After", "5")
			problem.Write(w, http.StatusServiceUnavailable, fmt.Sprintf("could not look up the TXT record %s: %v; try again shortly", name, err))
		}
		return
	}
	entry, err := h.deps.DomainAdmin.VerifyDomain(r.Context(), fsm.VerifyDomain{Domain: d.Domain, Workspace: d.Workspace, AtMs: h.cfg.Now().UnixMilli()})
	if err != nil {
		h.registryFailed(w, "verify the domain", err)
		return
	}
	h.log.Info("custom domain verified", "domain", d.Domain, "workspace", d.Workspace)
	writeJSON(w, http.StatusOK, domainInfo(entry))
}

// updateDomain changes a domain's settings and, for an instance admin,
// marks it verified without the DNS check.
func (h *Handler) updateDomain(w http.ResponseWriter, r *http.Request) {
	if !h.domainWriter(w) {
		return
	}
	d, ok := h.pathDomain(w, r)
	if !ok {
		return
	}
	var req UpdateDomainRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Verified != nil {
		if !*req.Verified {
			problem.WriteField(w, http.StatusBadRequest, "verified", "verified can only be set to true; delete the domain to withdraw it")
			return
		}
		if !callerOf(r).key.InstanceAdmin() {
			problem.WriteField(w, http.StatusForbidden, "verified", "only an instance admin may mark a domain verified without the DNS check; publish the TXT record and POST .../verify")
			return
		}
	}
	s := d.Settings
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"root_redirect", req.RootRedirect, &s.RootRedirect}, {"not_found_redirect", req.NotFoundRedirect, &s.NotFoundRedirect}} {
		if f.v == nil {
			continue
		}
		if *f.v == "" {
			*f.dst = ""
			continue
		}
		u, err := h.cfg.Targets.Check(*f.v)
		if err == nil && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			err = errors.New("not an http(s) URL")
		}
		if err != nil {
			problem.WriteField(w, http.StatusBadRequest, f.name, f.name+" must be an absolute http(s) URL that links may point at: "+err.Error())
			return
		}
		*f.dst = u
	}
	if req.RedirectStatus != nil {
		s.RedirectStatus = *req.RedirectStatus
	}
	if err := s.Check(); err != nil {
		field := "root_redirect"
		if req.RedirectStatus != nil && (fsm.DomainSettings{RedirectStatus: s.RedirectStatus}).Check() != nil {
			field = "redirect_status"
		}
		problem.WriteField(w, http.StatusBadRequest, field, err.Error())
		return
	}
	entry := d
	var err error
	if s != d.Settings {
		if entry, err = h.deps.DomainAdmin.SetDomainSettings(r.Context(), fsm.SetDomainSettings{Domain: d.Domain, Workspace: d.Workspace, Settings: s}); err != nil {
			h.registryFailed(w, "change the domain's settings", err)
			return
		}
	}
	if req.Verified != nil && !entry.Verified {
		if entry, err = h.deps.DomainAdmin.VerifyDomain(r.Context(), fsm.VerifyDomain{Domain: d.Domain, Workspace: d.Workspace, AtMs: h.cfg.Now().UnixMilli()}); err != nil {
			h.registryFailed(w, "verify the domain", err)
			return
		}
		h.log.Info("custom domain marked verified by an instance admin", "domain", d.Domain, "workspace", d.Workspace)
	}
	writeJSON(w, http.StatusOK, domainInfo(entry))
}
