package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/smartlink"
)

// Header values shared by every response. They are never modified in place
// (net/http does the same with its own constant headers), so sharing them
// saves an allocation per response.
var (
	ccNoStore = []string{"no-store"}
	ctProblem = []string{problem.ContentType}
	nosniff   = []string{"nosniff"}

	// The bodies are RFC 9457 problem documents, like every other error
	// of Shortify, built once.
	bodyNotFound = []byte(`{"type":"about:blank","title":"Not Found","status":404,"detail":"no short link has this code"}` + "\n")
	bodyGone     = []byte(`{"type":"about:blank","title":"Gone","status":410,"detail":"this short link has expired or was disabled"}` + "\n")
	lenNotFound  = []string{strconv.Itoa(len(bodyNotFound))}
	lenGone      = []string{strconv.Itoa(len(bodyGone))}
)

// statusClientClosedRequest is the status Caddy logs when the client went
// away before the answer (as reverse_proxy does); the client never sees it.
const statusClientClosedRequest = 499

// ServeHTTP answers GET and HEAD /{code} on the host of the request
// (domains.go), which selects the links: the instance's own (hosts), a
// verified custom domain's, or none (404 at once, no lookup):
//
//   - / itself: the root_redirect, or a small HTML page that says what
//     this is (landing.go); on a custom domain, its root_redirect or 404;
//   - a link: its status (or the domain's redirect_status, or
//     default_status) with Location and a
//     Cache-Control that depends on whether the redirect is permanent;
//   - an unknown code, or a path that cannot be a code: 404, or the next
//     handler with not_found "next"; on a custom domain with a
//     not_found_redirect, a 302 there;
//   - an expired or disabled link: 410 Gone, also after the cleanup has
//     retired an expired one (the store keeps its row); a deleted link is
//     an unknown code (404);
//   - a link an administrator took down: 451 Unavailable For Legal
//     Reasons, a short page naming the reason (takedown.go);
//   - a client over its rate_limit or out of its miss_limit: 429 Too Many
//     Requests, before any lookup (ratelimit.go);
//   - a store failure: 503 (a Redis failure is only logged);
//   - a smart link (options decided at the click: rules, a split, a
//     password, a click limit, a preview, expired_url, cache_max_age):
//     the steps of smart.go, after the unknown and taken-down checks.
//
// POST /{code} of a password-protected link is its form's answer (smart.go);
// other POSTs and other methods go to the next handler untouched. Paths
// that are not "/" followed by a well-formed code never touch a cache or
// the store.
//
// Cache-Control, on purpose: a temporary redirect (302, 307) is "no-store",
// so that browsers and shared caches never answer a click in our place and
// every click reaches an edge, where it is counted and where takedowns,
// expiry and disabling take effect at once. (no-cache would do the same in
// browsers, since these answers carry no validators, but would still let
// caches keep the target URL, which may be private.) A permanent redirect
// (301, 308) is "public, max-age=permanent_max_age": the owner asked for a
// permanent redirect, and without a max-age browsers keep 301s indefinitely,
// so the max-age bounds how long a takedown takes to reach them. 404 and
// 410 are "no-store" too: a code unknown now may be created a second later,
// and a disabled link may be enabled again.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.Method == http.MethodPost {
			return h.servePost(w, r, next) // a password form's answer, or the next handler's (smart.go)
		}
		return next.ServeHTTP(w, r)
	}
	st, ok := h.resolve(r.Host) // the own host or a custom domain (domains.go)
	if !ok {
		return h.unknownHost(w, r, next)
	}
	if r.URL.Path == "/" {
		if st.cfg != nil {
			return h.rootOf(w, r, next, st)
		}
		return h.root(w, r, next) // landing.go
	}
	code, ok := strings.CutPrefix(r.URL.Path, "/")
	if !ok || !shortcode.WellFormed(code) {
		return h.unknown(w, r, next, "", st)
	}

	// The limits come before any lookup: a refused request costs no cache
	// or store work (and no click event).
	var client string // the rate-limit key; "" when not needed (yet)
	if h.limits != nil && h.needClient() {
		client = h.limits.clientKey(r)
		if !h.allow(r.Context(), w, r, client) || h.missBudgetSpent(w, r, client) {
			return nil
		}
	}

	e, url, err := h.find(r, st.domain, code)
	if err != nil {
		return err
	}

	switch {
	case e.state == stateUnknown, st.cfg != nil && e.workspace != st.cfg.WorkspaceID:
		// A custom domain serves its own workspace's links only, never
		// those another workspace left on it before it changed hands.
		return h.unknown(w, r, next, client, st)
	case e.state == stateTakenDown: // before expiry: the takedown is what to say
		return h.takenDown(w, r, url) // takedown.go; url holds the reason
	case e.flags&flagSmart != 0: // the one test a plain link pays for smart links
		return h.serveSmart(w, r, st, code, &e, smartlink.Compiled(url)) // smart.go
	case e.state == stateDisabled, e.expires != 0 && e.expired(h.nowNano()):
		h.stats.gone.Inc()
		return plain(w, r, http.StatusGone, bodyGone, lenGone)
	}
	if h.blockedClick(w, r, code, st.domain, &e, url) { // the interstitial (blocked.go)
		return nil
	}
	h.stats.redirects.Inc()
	if h.hot != nil {
		h.hot.sample(st.domain, code) // the hot list of warm starts (hot.go); never waits
	}

	status := h.linkStatus(&e, st) // the link's, the domain's or the default (domains.go)
	hdr := w.Header()
	hdr["Location"] = []string{url} // the only allocation of an L1 hit
	if status == http.StatusMovedPermanently || status == http.StatusPermanentRedirect {
		hdr["Cache-Control"] = h.permanentCC
	} else {
		hdr["Cache-Control"] = ccNoStore
	}
	w.WriteHeader(status)
	if h.events != nil {
		x := h.visitors.visitOf(r)
		h.emitClick(&x, code, st.domain, &e, status, smartlink.ChoiceURL) // never waits (clicks.go)
	}
	return nil
}

// find returns the L1 entry of code on domain ("" the own host), loading
// it on a miss. Its error is the handler's answer (503, or 499 when the
// client went away).
func (h *Handler) find(r *http.Request, domain, code string) (entry, string, error) {
	// The L1 key: the code on the own host; domain/code on a custom
	// domain, built for the Get on the stack (Get keeps no reference to
	// it) and copied to the heap only for a load, which keeps it.
	var (
		e   entry
		url string
		ok  bool
	)
	if domain == "" {
		e, url, ok = h.l1.Get(code)
	} else {
		var buf [keyBufLen]byte
		e, url, ok = h.l1.Get(stackKey(&buf, domain, code))
	}
	if ok {
		h.stats.l1Hits.Inc()
		h.traceHit(r, code) // one bool test while tracing is off (tracing.go)
		return e, url, nil
	}
	h.stats.l1Misses.Inc()
	e, url, err := h.l1.Load(r.Context(), l1Key(domain, code), h.load)
	if err != nil {
		h.stats.errors.Inc()
		if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			return e, "", caddyhttp.Error(statusClientClosedRequest, err)
		}
		return e, "", caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	return e, url, nil
}

// unknown answers a code that no link has, or a path that is not a code.
// A 404 spends one miss of the client's miss budget (client is its key, or
// "" when not yet known); passing the request on spends none, since the
// next handler may well have an answer. On a custom domain with a
// not_found_redirect the answer is a 302 there, which spends a miss too:
// it tells a guessed code from a real one as a 404 does.
func (h *Handler) unknown(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, client string, st site) error {
	redirect := st.cfg != nil && st.cfg.NotFoundRedirect != ""
	if h.notFoundNext && !redirect {
		return next.ServeHTTP(w, r)
	}
	if h.limits != nil && h.limits.miss != nil {
		if client == "" {
			client = h.limits.clientKey(r)
		}
		if !h.spendMiss(w, r, client) {
			return nil
		}
	}
	h.stats.notFound.Inc()
	if redirect {
		return redirectTo(w, st.cfg.NotFoundRedirect)
	}
	return plain(w, r, http.StatusNotFound, bodyNotFound, lenNotFound)
}

// plain writes a small fixed answer; HEAD gets the same headers and no body.
func plain(w http.ResponseWriter, r *http.Request, status int, body []byte, length []string) error {
	hdr := w.Header()
	hdr["Content-Type"] = ctProblem
	hdr["Content-Length"] = length
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Cache-Control"] = ccNoStore
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	// A failed write means the client went away: nothing to report.
	_, _ = w.Write(body)
	return nil
}

// nowNano is the time for expiry checks, in Unix nanoseconds.
func (h *Handler) nowNano() int64 {
	if h.clock != nil {
		return h.clock.NowNano()
	}
	return time.Now().UnixNano()
}
