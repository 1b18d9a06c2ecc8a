package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/clicklimit"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/useragent"
)

// Smart links (docs/smart-links.md): a link with options decided at the
// click (smartlink.Options) keeps, in the L1, its Location and options as
// one smartlink.Compiled string and flagSmart in its entry. A plain
// link's hit tests that flag and nothing else; a smart link's request
// comes here, after the unknown and taken-down checks, and goes through
// the steps in this order:
//
//  1. expired, disabled or (later) exhausted: a 302 to expired_url, or
//     410 without one;
//  2. a link-preview crawler: the preview page, or a neutral page for a
//     password or click-limited link without a preview; never the
//     target, never a click claimed (preview.go);
//  3. a password: the gate (password.go), which may answer instead;
//  4. the target: the first rule that holds, else the split's variant,
//     else the url, with the visitor's query forwarded when asked;
//  5. a click limit: GET and POST claim one click from the shared
//     counter (HEAD only looks); none left is the answer of step 1, a
//     counter out of reach is 503, never a redirect left uncounted;
//  6. the redirect, "no-store" unless the link has cache_max_age, and the
//     click event naming the choice.

// loadedSmart is loaded for a link with options: its entry gets flagSmart
// and its L1 string the Compiled form. Every URL the options may send a
// visitor to passes the gate the link's URL passes; if any is refused the
// link is answered as one whose URL is refused (410, no expired_url). A
// disabled or expired link keeps its options, so that expired_url works.
func (h *Handler) loadedSmart(tier string, l linkstore.Link, e entry) (entry, string) {
	refused := func() (entry, string) {
		e.state = stateDisabled
		return e, ""
	}
	loc, ok := h.gateURL(tier, l, l.URL)
	if !ok {
		return refused()
	}
	// The options get the gated, Location-encoded form of their URLs; the
	// slices are copied, as l's belong to the caller.
	o := l.Smart
	o.Rules = append([]smartlink.Rule(nil), o.Rules...)
	for i := range o.Rules {
		if o.Rules[i].URL, ok = h.gateURL(tier, l, o.Rules[i].URL); !ok {
			return refused()
		}
	}
	o.Targets = append([]smartlink.Target(nil), o.Targets...)
	for i := range o.Targets {
		if o.Targets[i].URL, ok = h.gateURL(tier, l, o.Targets[i].URL); !ok {
			return refused()
		}
	}
	if o.ExpiredURL != "" {
		if o.ExpiredURL, ok = h.gateURL(tier, l, o.ExpiredURL); !ok {
			return refused()
		}
	}
	c, err := smartlink.Compile(loc, o)
	if err != nil {
		h.stats.refusedTarget(tier).Inc()
		if ce := h.l2log.Check(zap.WarnLevel, "refused a link whose options do not compile; answering 410"); ce != nil {
			ce.Write(zap.String("code", l.Code), zap.Int64("link_id", l.ID), zap.String("tier", tier), zap.Error(err))
		}
		return refused()
	}
	e.flags |= flagSmart
	return e, string(c)
}

// serveSmart answers a request for the smart link code (its entry e and
// options c), in the order of the steps above.
func (h *Handler) serveSmart(w http.ResponseWriter, r *http.Request, st site, code string, e *entry, c smartlink.Compiled) error {
	if e.state == stateDisabled || e.expired(h.nowNano()) {
		return h.smartGone(w, r, c)
	}
	has := c.Has()
	x := h.visitors.visitOf(r)
	ua := x.ua
	if (has&(smartlink.HasPreview|smartlink.HasPassword|smartlink.HasMaxClicks) != 0) && useragent.IsPreviewCrawler(ua) {
		return h.preview(w, r, st, code, c) // preview.go
	}
	if has&smartlink.HasPassword != 0 && !h.passwordGate(w, r, st, l1Key(st.domain, code), c) {
		return nil // the gate answered
	}

	v := smartlink.Visitor{
		UserAgent:      ua,
		AcceptLanguage: headerValue(r.Header, "Accept-Language"),
		RawQuery:       r.URL.RawQuery,
		Now:            time.Unix(0, h.nowNano()),
	}
	// Only what the link tests: the hash for a split, the country for
	// rules (which may test it); the click event reuses them.
	if has&smartlink.HasTargets != 0 {
		v.Hash = x.visitorHash()
	}
	if has&smartlink.HasRules != 0 {
		v.Country = x.countryCode()
	}
	target, choice := c.Choose(&v)
	if has&smartlink.HasForwardQuery != 0 && r.URL.RawQuery != "" {
		// The visitor's query is theirs to write: it is encoded as the
		// gate encodes a Location.
		target = locationEncode(c.ForwardQuery(target, r.URL.RawQuery))
	}
	if h.blockedClick(w, r, code, st.domain, e, target) { // the interstitial (blocked.go), before a click is claimed
		return nil
	}

	if has&smartlink.HasMaxClicks != 0 {
		ok, err := h.claim(r, e.linkID, c.MaxClicks())
		if err != nil {
			h.stats.claimErrors.Inc()
			h.stats.errors.Inc()
			if r.Context().Err() != nil {
				return caddyhttp.Error(statusClientClosedRequest, err)
			}
			return caddyhttp.Error(http.StatusServiceUnavailable, err)
		}
		if !ok {
			h.stats.exhausted.Inc()
			return h.smartGone(w, r, c)
		}
	}

	h.stats.redirects.Inc()
	status := h.linkStatus(e, st)
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the form's answer: the browser follows it with a GET
	}
	hdr := w.Header()
	hdr["Location"] = []string{target}
	// The answer depends on the visitor or on when they click (even for
	// 301 and 308), so it reaches an edge every time; cache_max_age is
	// only accepted for links whose answer depends on neither.
	if n := c.CacheMaxAge(); n > 0 && r.Method != http.MethodPost {
		hdr["Cache-Control"] = []string{"public, max-age=" + strconv.Itoa(n)}
	} else {
		hdr["Cache-Control"] = ccNoStore
	}
	w.WriteHeader(status)
	if h.events != nil {
		h.emitClick(&x, code, st.domain, e, status, choice) // never waits (clicks.go)
	}
	return nil
}

// smartGone answers an expired, disabled or exhausted smart link: a 302 to
// its expired_url, else 410 as for a plain link.
func (h *Handler) smartGone(w http.ResponseWriter, r *http.Request, c smartlink.Compiled) error {
	h.stats.gone.Inc()
	if u := c.ExpiredURL(); u != "" {
		return redirectTo(w, u) // 302, no-store: the link may come back
	}
	return plain(w, r, http.StatusGone, bodyGone, lenGone)
}

// servePost answers a POST to /{code}: a password-protected link's form
// goes to its gate (serveSmart); every other POST goes to the next
// handler, as before smart links.
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	st, ok := h.resolve(r.Host)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	code, ok := strings.CutPrefix(r.URL.Path, "/")
	if !ok || !shortcode.WellFormed(code) {
		return next.ServeHTTP(w, r)
	}
	if h.limits != nil && h.needClient() {
		if !h.allow(r.Context(), w, r, h.limits.clientKey(r)) {
			return nil
		}
	}
	e, url, err := h.find(r, st.domain, code)
	if err != nil {
		return err
	}
	switch {
	case e.state == stateUnknown, e.state == stateTakenDown, e.flags&flagSmart == 0,
		st.cfg != nil && e.workspace != st.cfg.WorkspaceID,
		smartlink.Compiled(url).Has()&smartlink.HasPassword == 0:
		return next.ServeHTTP(w, r)
	}
	return h.serveSmart(w, r, st, code, &e, smartlink.Compiled(url))
}

// claimTimeout bounds one claim, as lookupTimeout bounds a load: a counter
// that does not answer makes a 503, not a request held until the client
// gives up.
const claimTimeout = 2 * time.Second

// claim counts one click of the link linkID against max, and reports
// whether it may redirect. HEAD claims nothing: it only looks whether a
// click is left, so that link checkers do not use up a link.
func (h *Handler) claim(r *http.Request, linkID, max int64) (bool, error) {
	ctx, cancel := context.WithTimeout(r.Context(), claimTimeout)
	defer cancel()
	if r.Method == http.MethodHead {
		n, err := h.counter.Counted(ctx, linkID)
		if err != nil {
			return false, fmt.Errorf("shortify_edge: click limit of link %d: %w", linkID, err)
		}
		return n < max, nil
	}
	ok, err := h.counter.Claim(ctx, linkID, max)
	if err != nil {
		return false, fmt.Errorf("shortify_edge: claim a click of link %d: %w", linkID, err)
	}
	if ok {
		h.stats.claimed.Inc()
	}
	return ok, nil
}

// provisionClickLimit picks the counter of limited links' clicks, unless
// a test set one: Redis when the edge has it (every edge of a deployment
// shares it), else the link database's primary (docs/smart-links.md,
// "Click limits").
func (h *Handler) provisionClickLimit() {
	if h.counter != nil {
		return
	}
	if h.res.counterRedis != nil {
		h.counter = clicklimit.NewRedis(h.res.counterRedis, h.RedisPrefix)
		return
	}
	h.counter = storeCounter{h.res.store}
}

// storeCounter claims clicks in the link database, through the store the
// lookups use, which opens on first use (store.go).
type storeCounter struct{ s *lazyStore }

// Claim implements clicklimit.Counter.
func (c storeCounter) Claim(ctx context.Context, linkID, max int64) (bool, error) {
	st, err := c.s.get(ctx)
	if err != nil {
		return false, err
	}
	return clicklimit.NewStore(st).Claim(ctx, linkID, max)
}

// Counted implements clicklimit.Counter.
func (c storeCounter) Counted(ctx context.Context, linkID int64) (int64, error) {
	st, err := c.s.get(ctx)
	if err != nil {
		return 0, err
	}
	return clicklimit.NewStore(st).Counted(ctx, linkID)
}

var _ clicklimit.Counter = storeCounter{}
