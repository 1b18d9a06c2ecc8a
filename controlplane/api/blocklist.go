package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/shortify/shortify/internal/problem"
)

// Blocklist is the replicated domain blocklist (the Raft FSM's).
type Blocklist interface {
	// BlockedDomains lists the blocked domains, sorted.
	BlockedDomains() []string
	// DomainBlocked reports whether host or a parent domain is blocked.
	DomainBlocked(host string) bool
	// SetDomainBlocked adds or removes a domain through Raft.
	SetDomainBlocked(ctx context.Context, domain string, blocked bool) error
}

// targetBlocked reports whether the target URL's host is on the
// replicated blocklist. targeturl.Policy already refused the configured
// (static) blocked_domains.
func (h *Handler) targetBlocked(target string) (string, bool) {
	if h.deps.Blocklist == nil {
		return "", false
	}
	u, err := url.Parse(target) // normalised by targeturl: lower-case host
	if err != nil {
		return "", false
	}
	host := u.Hostname()
	return host, host != "" && h.deps.Blocklist.DomainBlocked(host)
}

func (h *Handler) listBlocked(w http.ResponseWriter, r *http.Request) {
	if !h.haveBlocklist(w) {
		return
	}
	domains := h.deps.Blocklist.BlockedDomains()
	if domains == nil {
		domains = []string{}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"domains": domains})
}

func (h *Handler) setBlocked(blocked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.haveBlocklist(w) {
			return
		}
		d, err := normaliseDomain(r.PathValue("domain"))
		if err != nil || d == "" {
			problem.WriteField(w, http.StatusBadRequest, "domain", fmt.Sprintf("%q is not a host name such as example.com (IDNs in their xn-- form)", r.PathValue("domain")))
			return
		}
		if err := h.deps.Blocklist.SetDomainBlocked(r.Context(), d, blocked); err != nil {
			h.unavailable(w, "change the blocklist", err)
			return
		}
		h.log.Info("blocklist changed", "domain", d, "blocked", blocked)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) haveBlocklist(w http.ResponseWriter) bool {
	if h.deps.Blocklist == nil {
		problem.Write(w, http.StatusServiceUnavailable, "this API has no blocklist behind it")
		return false
	}
	return true
}
