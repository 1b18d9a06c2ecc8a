package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/domainmirror"
)

// Custom domains (docs/domains.md, and docs/architecture.md, "A
// redirect"): the edge resolves the request's host and code together.
//
// The registry of custom domains lives in the control plane's Raft FSM;
// its leader mirrors it into the link database (package domainmirror),
// and every edge keeps the verified domains in memory with a pooled
// domainmirror.Watcher that polls the mirror's generation every
// domain_refresh. Per request, the host (lower case, no port, no trailing
// dot) is:
//
//   - one of the instance's own hosts (the option hosts): domain "", the
//     links without a custom domain, as before custom domains;
//   - a verified custom domain: its links, its settings;
//   - anything else: 404 at once, without a cache or store lookup. The
//     in-memory registry is the negative cache of unknown hosts, counted
//     in shortify_edge_unknown_hosts_total. Without hosts, every host that
//     is not a verified custom domain is the own host, as before.
//
// The L1 key of a link on the own host is its code, as before (the own
// host's entries and lookups do not grow); on a custom domain it is
// domain+"/"+code (l1Key), which no code can be since codes hold no "/".

// DefaultDomainRefresh is how often an edge polls the mirror's generation.
const DefaultDomainRefresh = domainmirror.DefaultRefresh

// site is what a request's host resolved to: the own host (cfg nil,
// domain "") or a verified custom domain and its settings.
type site struct {
	domain string
	cfg    *domainmirror.Entry
}

// l1Key is the L1 key of code on domain.
func l1Key(domain, code string) string {
	if domain == "" {
		return code
	}
	return domain + "/" + code
}

// domainErrorLogEvery is how many failed polls of the mirror in a row
// make one more warning after the first.
const domainErrorLogEvery = 60

// keyBufLen fits the L1 key of most custom-domain requests on the stack.
const keyBufLen = 128

// stackKey is l1Key(domain, code) in buf when it fits (else on the heap).
// The string aliases buf: it must not outlive the caller's frame, nor be
// kept by anything (the L1's Get keeps nothing; its Load does).
func stackKey(buf *[keyBufLen]byte, domain, code string) string {
	n := len(domain) + 1 + len(code)
	if n > len(buf) {
		return l1Key(domain, code)
	}
	copy(buf[:], domain)
	buf[len(domain)] = '/'
	copy(buf[len(domain)+1:], code)
	return unsafe.String(&buf[0], n)
}

// splitL1Key undoes l1Key.
func splitL1Key(key string) (domain, code string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// normalizeHost is host (a Host header) in lower case, without port or
// trailing dot. The common host, already lower case without a port,
// costs a scan and no allocation.
func normalizeHost(host string) string {
	for i := 0; i < len(host); i++ {
		if c := host[i]; c == ':' || c == '[' || ('A' <= c && c <= 'Z') {
			return normalizeHostSlow(host)
		}
	}
	return strings.TrimSuffix(host, ".")
}

func normalizeHostSlow(host string) string {
	if strings.HasPrefix(host, "[") { // an IPv6 literal, with or without a port
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[:i+1]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// resolve says which site host is, and false for a host the edge does not
// answer for.
func (h *Handler) resolve(host string) (site, bool) {
	return resolveIn(h.domains.Registry(), h.ownHosts, host)
}

// resolveIn is resolve against a registry and a set of own hosts (nil:
// every host that is not a verified domain).
func resolveIn(reg *domainmirror.Registry, own map[string]struct{}, host string) (site, bool) {
	host = normalizeHost(host)
	if own != nil {
		if _, ok := own[host]; ok {
			return site{}, true
		}
	}
	if e := reg.Lookup(host); e != nil {
		return site{domain: e.Domain, cfg: e}, true
	}
	return site{}, own == nil
}

// unknownHost answers a request for a host that is neither the
// instance's nor a verified custom domain: 404 (or the next handler with
// not_found next), with no lookup.
func (h *Handler) unknownHost(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.unknownHosts.Inc()
	return h.unknown(w, r, next, "", site{})
}

// redirectTo answers 302 to loc, not cached: a domain's settings change.
func redirectTo(w http.ResponseWriter, loc string) error {
	hdr := w.Header()
	hdr["Location"] = []string{loc}
	hdr["Cache-Control"] = ccNoStore
	w.WriteHeader(http.StatusFound)
	return nil
}

// rootOf answers / on a custom domain: its root_redirect, else what an
// unknown code gets without a not_found_redirect (404).
func (h *Handler) rootOf(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, st site) error {
	if st.cfg.RootRedirect != "" {
		return redirectTo(w, st.cfg.RootRedirect)
	}
	return h.unknown(w, r, next, "", site{})
}

// linkStatus is the status of a redirect: the link's own, else the
// domain's redirect_status, else default_status.
func (h *Handler) linkStatus(e *entry, st site) int {
	if e.status != 0 {
		return int(e.status)
	}
	if st.cfg != nil && st.cfg.RedirectStatus != 0 {
		return st.cfg.RedirectStatus
	}
	return h.DefaultStatus
}

// ownHostSet normalises the hosts option; nil when empty.
func ownHostSet(hosts []string) (map[string]struct{}, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	set := make(map[string]struct{}, len(hosts))
	for _, raw := range hosts {
		hn := normalizeHost(raw)
		if hn == "" || strings.ContainsAny(hn, "/ \t\r\n*{}") || strings.Contains(raw, "://") {
			return nil, fmt.Errorf("hosts: %q is not a host name", raw)
		}
		set[hn] = struct{}{}
	}
	return set, nil
}

// provisionDomains takes the pooled watcher of the custom-domain mirror
// in the link database (one per database and refresh interval, shared by
// every handler and surviving reloads; the pool stops it when the last
// handler is cleaned up) and reads the hosts option.
func (h *Handler) provisionDomains() error {
	h.DomainRefresh = cmpDuration(h.DomainRefresh, DefaultDomainRefresh)
	set, err := ownHostSet(h.Hosts)
	if err != nil {
		return err
	}
	h.ownHosts = set
	h.unknownHosts = counter{h.metrics.unknownHosts}
	dsn, every, logger := h.Database, time.Duration(h.DomainRefresh), h.logger
	warmTimeout := time.Duration(cmpDuration(h.Warm.Timeout, DefaultWarmTimeout))
	key := "shortify/domains/" + hashKey(dsn, h.DomainRefresh, h.hookKey())
	v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
		// The poll runs every second: a failing database (or a control
		// plane too old to have made the mirror's tables) is logged at
		// its first failure and then every domainErrorLogEvery-th (the
		// count starts again when a new registry loads).
		var failures atomic.Int64
		return newDomainWatcher(domainmirror.Watch(domainmirror.WatcherConfig{
			Open:  func(ctx context.Context) (domainmirror.Store, error) { return domainmirror.Open(ctx, dsn, false) },
			Every: every,
			OnError: func(err error) {
				if n := failures.Add(1); n == 1 || n%domainErrorLogEvery == 0 {
					logger.Warn("could not reload the custom domains; the last ones stay", zap.Error(err), zap.Int64("failures", n))
				}
			},
			OnLoad: func(gen int64, n int) {
				failures.Store(0)
				logger.Info("custom domains loaded", zap.Int64("generation", gen), zap.Int("verified", n))
			},
		}), h.warmReg, warmTimeout), nil
	})
	if err != nil {
		return fmt.Errorf("custom domains: %w", err)
	}
	h.domains = v.(domainWatcher).Watcher
	return nil
}

// domainWatcher makes a domainmirror.Watcher a caddy.Destructor, and
// holds the edge's readiness until its first load.
type domainWatcher struct {
	*domainmirror.Watcher
	gate *domainGate
}

// newDomainWatcher registers the gate of w with reg (nil: warmups): until
// the custom domains are loaded once, or warm_timeout has passed (a
// database without the mirror, or down), the edge is not ready, since it
// would answer their links 404.
func newDomainWatcher(w *domainmirror.Watcher, reg *warmRegistry, timeout time.Duration) domainWatcher {
	if reg == nil {
		reg = warmups
	}
	g := &domainGate{w: w, deadline: time.Now().Add(timeout), reg: reg}
	reg.add(g)
	return domainWatcher{w, g}
}

// Destruct stops the polling and drops the gate.
func (d domainWatcher) Destruct() error {
	d.gate.reg.remove(d.gate)
	d.Close()
	return nil
}

// domainGate is a readyGate: open once the watcher has loaded the custom
// domains, or at its deadline.
type domainGate struct {
	w        *domainmirror.Watcher
	deadline time.Time
	reg      *warmRegistry
}

func (g *domainGate) ready(now time.Time) bool { return g.w.Loaded() || !now.Before(g.deadline) }
