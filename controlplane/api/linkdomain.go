package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// Links live on a domain: "" is the instance's own host (the public URL's
// host and the other own host names), anything else a custom domain of the
// link's workspace, in fsm.NormalizeDomain's form. A create names the
// domain in its body; every route that names a link by code takes it as
// the optional query parameter domain.

// domainParam is the query parameter that names a link's domain on the
// routes by code.
const domainParam = "domain"

// ownHost tells whether d (normalised) is one of the instance's own host
// names, which map to "".
func (h *Handler) ownHost(d string) bool {
	for _, own := range h.cfg.Targets.OwnHosts {
		if strings.EqualFold(strings.TrimSuffix(own, "."), d) {
			return true
		}
	}
	return false
}

// parseLinkDomain normalises a domain as a client wrote it: "" and the own
// host names are "", anything else a host name in fsm.NormalizeDomain's
// form. It says nothing of whether the domain is registered.
func (h *Handler) parseLinkDomain(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	d, err := fsm.NormalizeDomain(raw)
	if err != nil {
		// The FSM's sentinel names a Raft command, which means nothing
		// to an API client: keep its detail only.
		why := strings.TrimPrefix(err.Error(), fsm.ErrInvalidCommand.Error()+": ")
		return "", fmt.Errorf("domain must be a host name such as go.example.com: %s", why)
	}
	if h.ownHost(d) {
		return "", nil
	}
	return d, nil
}

// queryDomain reads the optional domain parameter of a route by code
// from vals (which apiquery.Params checked), answering 400 itself for a
// malformed one. A well-formed domain that is not registered is not an
// error here: its links are as missing as any other (404).
func (h *Handler) queryDomain(w http.ResponseWriter, vals url.Values) (string, bool) {
	d, err := h.parseLinkDomain(vals.Get(domainParam))
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, domainParam, err.Error())
		return "", false
	}
	return d, true
}

// linkRef reads the {code} of a route by code and its optional domain
// parameter (the route's only query parameter), answering 400 itself
// when either is bad.
func (h *Handler) linkRef(w http.ResponseWriter, r *http.Request) (domain, code string, ok bool) {
	if code, ok = apiquery.PathCode(w, r); !ok {
		return "", "", false
	}
	vals, ok := apiquery.Params(w, r, []string{domainParam})
	if !ok {
		return "", "", false
	}
	domain, ok = h.queryDomain(w, vals)
	return domain, code, ok
}

// linkDomain checks the domain of a create by a caller acting in ws: the
// own host, or a verified custom domain of ws. A domain of another
// workspace gets the same refusal as an unknown one, so that a create
// does not tell which domains other workspaces hold.
func (h *Handler) linkDomain(raw string, ws int64) (string, *problem.Details) {
	d, err := h.parseLinkDomain(raw)
	if err != nil {
		return "", &problem.Details{Status: http.StatusBadRequest, Field: "domain", Detail: err.Error()}
	}
	if d == "" {
		return "", nil
	}
	var entry fsm.DomainEntry
	ok := false
	if h.deps.Domains != nil {
		entry, ok = h.deps.Domains.Domain(d)
	}
	if !ok || !entry.Verified || workspace.Of(entry.Workspace) != workspace.Of(ws) {
		return "", &problem.Details{Status: http.StatusBadRequest, Field: "domain",
			Detail: fmt.Sprintf("domain %s is not a verified domain of this workspace", d)}
	}
	return d, nil
}

// shortBase is the scheme and host that the short URLs of links on domain
// start with: the configured public URL on the own host, https://DOMAIN
// on a custom domain (the front door gets it a certificate on demand).
func (h *Handler) shortBase(domain string) string {
	if domain == "" {
		return h.base(nil)
	}
	return "https://" + domain
}

// missingLink is the 404 detail of a link that does not exist on the
// domain, and of one that exists in a workspace the caller does not see:
// the two must read the same.
func missingLink(domain, code string) string {
	if domain == "" {
		return fmt.Sprintf("no link has the code %q", code)
	}
	return fmt.Sprintf("no link has the code %q on %s", code, domain)
}

// listWorkspace is the workspace whose links the caller lists: its own
// for a workspace's key, the named one or every one (0) for an instance
// admin.
func (c caller) listWorkspace() int64 {
	if c.key.InstanceAdmin() && !c.anonymous {
		return c.workspace
	}
	return c.homeWorkspace()
}
