package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/threatlist"
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

// ThreatList is the shared block set (threat feeds and the admin
// blocklist) as this node last loaded it; *blockset.Watcher implements it.
type ThreatList interface {
	// Set is the set now; nil when empty.
	Set() *threatlist.Set
}

// targetBlocked says why the target URL (normalised by targeturl) is
// refused, in words that name the list: its host is on the replicated
// admin blocklist (read from Raft directly, so that a block applies to
// creates at once), or its host or the URL is on the shared block set.
// targeturl.Policy already refused the configured (static)
// blocked_domains.
func (h *Handler) targetBlocked(target string) (string, bool) {
	if h.deps.Blocklist != nil {
		if u, err := url.Parse(target); err == nil && u.Hostname() != "" && h.deps.Blocklist.DomainBlocked(u.Hostname()) {
			return fmt.Sprintf("invalid target URL: the domain %s is blocked (admin blocklist)", u.Hostname()), true
		}
	}
	if h.deps.Threats == nil {
		return "", false
	}
	hit, ok := h.deps.Threats.Set().Match(target)
	switch {
	case !ok:
		return "", false
	case hit.Source == threatfeed.AdminSource:
		return fmt.Sprintf("invalid target URL: the domain %s is blocked (admin blocklist)", hit.Value), true
	case hit.Kind == threatlist.URL:
		return fmt.Sprintf("invalid target URL: the URL is listed by the threat feed %q", hit.Source), true
	}
	return fmt.Sprintf("invalid target URL: the domain %s is listed by the threat feed %q", hit.Value, hit.Source), true
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
	return have(w, h.deps.Blocklist != nil, "blocklist")
}
