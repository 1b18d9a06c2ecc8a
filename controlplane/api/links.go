package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/workspace"
)

// maxBodyBytes bounds a request body: a create needs a few KB at most. A
// bulk create has its own bound (bulkBodyLimit).
const maxBodyBytes = 64 << 10

// generatedCodeAttempts bounds the retries when a generated code is already
// taken. Generated codes never collide with each other; only a custom alias
// created earlier can occupy one, so a second attempt practically always
// succeeds.
const generatedCodeAttempts = 5

// CreateLinkRequest is the body of POST /api/v1/links.
type CreateLinkRequest struct {
	// URL is the target (required).
	URL string `json:"url"`
	// Alias is a custom code (optional).
	Alias string `json:"alias,omitempty"`
	// ExpiresAt is when the link stops redirecting (optional, RFC 3339, in
	// the future).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// RedirectStatus is 301, 302, 307 or 308 (optional: the edge's default).
	RedirectStatus int `json:"redirect_status,omitempty"`
	// Domain is a verified custom domain of the caller's workspace that
	// the link answers on (optional: the instance's own host).
	Domain string `json:"domain,omitempty"`
	// SmartFields are the optional smart-link fields (password,
	// max_clicks, rules, targets, utm, ...).
	SmartFields
	// OrganizeFields are the optional title, tags and notes.
	OrganizeFields
}

// Link is a link as the API shows it.
type Link struct {
	Code string `json:"code"`
	// Domain is the custom domain the link answers on; absent on the
	// instance's own host.
	Domain   string `json:"domain,omitempty"`
	ShortURL string `json:"short_url"`
	URL      string `json:"url"`
	// Workspace is the ID of the workspace that holds the link.
	Workspace int64 `json:"workspace"`
	// ID is the link's Snowflake ID as a string: JavaScript numbers cannot
	// hold 64 bits.
	ID             string     `json:"id"`
	RedirectStatus int        `json:"redirect_status,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Disabled       bool       `json:"disabled"`
	// Review is set when the link is flagged for review.
	Review *Review `json:"review,omitempty"`
	// Takedown is present while an administrator has the link taken down
	// (the edge answers 451).
	Takedown *Takedown `json:"takedown,omitempty"`
	// SmartView shows the smart-link fields; never the password.
	SmartView
	// OrganizeView shows the title, tags and notes.
	OrganizeView
	// Clicks and ClicksHumans are the link's all-time clicks (humans and
	// bots; humans alone) within the stats retention, as the leader's
	// click-totals job last copied them: refreshed every
	// click_totals_interval (30 s by default), not live.
	Clicks       int64 `json:"clicks"`
	ClicksHumans int64 `json:"clicks_humans"`
}

func (h *Handler) createLink(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	defer func() { h.observeCreates(CreateSingle, w.status, 1) }()
	var req CreateLinkRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	link, pw, bad := h.newLink(r, h.policy(r), req)
	if bad != nil {
		problem.WriteDetails(w, *bad)
		return
	}
	if h.anonymous(r) {
		settle, ok := h.spendAnonymous(w, r)
		if !ok {
			return
		}
		defer settle()
	}
	if !h.checkHeld(w, r, link.WorkspaceID, 1) {
		return
	}
	budget, _, ok := h.spendCreates(w, r, link.WorkspaceID, 1)
	if !ok {
		return
	}
	defer func() {
		// As for anonymous creates: a taken alias keeps its create spent.
		if w.status != http.StatusCreated && w.status != http.StatusConflict {
			h.refundCreates(r, budget, 1)
		}
	}()
	if pw != nil {
		// Hashed once the request is known to be valid and within its
		// budgets: the hash is its most expensive part.
		hash, bad := h.hashPassword(r.Context(), *pw)
		if bad != nil {
			problem.WriteDetails(w, *bad)
			return
		}
		link.Smart.PasswordHash = hash
	}
	id, err := h.deps.Issuer.NewID()
	if err != nil {
		h.unavailable(w, "issue a link ID", err)
		return
	}
	link.ID = id
	if req.Alias != "" {
		link.Code = req.Alias
		if err := h.insertTraced(r.Context(), link); err != nil {
			if errors.Is(err, linkstore.ErrCodeTaken) {
				problem.WriteField(w, http.StatusConflict, "alias", h.takenDetail(r.Context(), link.Domain, req.Alias))
				return
			}
			if h.externalIDTaken(w, err) {
				return
			}
			h.storeFailed(w, "create link", err)
			return
		}
	} else if !h.createGenerated(w, r, &link) {
		return
	}
	h.writeThrough(r.Context(), link)
	h.publishCreated(r.Context(), link)
	h.flagLookalike(r.Context(), link)
	h.fetchTitle(link)
	w.Header().Set("Location", linkPath(link))
	out := []Link{h.present(r, link)}
	h.withReviews(r.Context(), out)
	writeJSON(w, http.StatusCreated, out[0])
}

// newLink validates a create request against the target policy pol and
// builds the link it asks for, without ID and code. A refusal comes back
// as a problem to send. A password comes back in clear (pw) for the caller
// to hash into link.Smart.PasswordHash, which holds pendingHash until then:
// hashing is slow, and a bulk create does it for many links at once.
func (h *Handler) newLink(r *http.Request, pol targeturl.Policy, req CreateLinkRequest) (link linkstore.Link, pw *string, _ *problem.Details) {
	bad := func(field, detail string) (linkstore.Link, *string, *problem.Details) {
		return linkstore.Link{}, nil, &problem.Details{Status: http.StatusBadRequest, Field: field, Detail: detail}
	}
	now := h.cfg.Now().UTC()
	smart, err := parseSmart(req.SmartFields)
	if err != nil {
		return linkstore.Link{}, nil, smartProblem(err)
	}
	raw := strings.TrimSpace(req.URL)
	if raw == "" {
		return bad("url", "url is required: the http or https URL to shorten")
	}
	if smart.has&hasUTM != 0 {
		raw = withUTM(raw, smart.utm)
	}
	target, err := pol.CheckContext(r.Context(), raw)
	if err != nil {
		return bad("url", err.Error())
	}
	if why, blocked := h.targetBlocked(target); blocked {
		return bad("url", why)
	}
	if req.Alias != "" {
		if err := shortcode.ValidateAlias(req.Alias); err != nil {
			return bad("alias", err.Error())
		}
	}
	ws := callerOf(r).homeWorkspace()
	domain, refused := h.linkDomain(req.Domain, ws)
	if refused != nil {
		return linkstore.Link{}, nil, refused
	}
	if !validStatus(req.RedirectStatus) {
		return bad("redirect_status", fmt.Sprintf("redirect_status %d is not one of 301, 302, 307, 308", req.RedirectStatus))
	}
	var expires time.Time
	if req.ExpiresAt != nil {
		expires = req.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !expires.After(now) {
			return bad("expires_at", "expires_at must be in the future")
		}
	}
	if bad := req.OrganizeFields.check(); bad != nil {
		return linkstore.Link{}, nil, bad
	}
	opts := smart.apply(smartlink.Options{})
	if refused := h.checkSmart(r.Context(), pol, &opts); refused != nil {
		return linkstore.Link{}, nil, refused
	}
	link = linkstore.Link{
		Domain:      domain,
		WorkspaceID: ws,
		URL:         target,
		Status:      req.RedirectStatus,
		CreatedAt:   now.Truncate(time.Microsecond),
		ExpiresAt:   expires,
		Smart:       opts,
	}
	req.OrganizeFields.apply(&link)
	return link, smart.password, nil
}

// policy is the target policy for requests arriving as r. The public
// URL's host is among its own hosts (see New); the request's Host is not
// trusted for anything.
func (h *Handler) policy(_ *http.Request) targeturl.Policy {
	return h.cfg.Targets
}

func validStatus(s int) bool {
	switch s {
	case 0, http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// insert stores one new link, grouped with concurrent creates when the
// node has a batcher.
func (h *Handler) insert(ctx context.Context, l linkstore.Link) error {
	if h.deps.Creator != nil {
		return h.deps.Creator.Create(ctx, l)
	}
	return h.deps.Store.Create(ctx, l)
}

// writeThrough puts a new or changed link into the L2 cache, so that every
// edge finds it at once, even while read replicas lag. A failure only
// costs a slower first redirect, so the write still succeeds.
func (h *Handler) writeThrough(ctx context.Context, l linkstore.Link) {
	if h.deps.Cache == nil {
		return
	}
	if err := h.deps.Cache.Set(ctx, l); err != nil {
		h.log.WarnContext(ctx, "write-through of a link to the L2 cache failed", "code", l.Code, "err", err)
	}
}

// createGenerated stores link under the next generated code, retrying
// with the next one when an alias already took it.
func (h *Handler) createGenerated(w http.ResponseWriter, r *http.Request, link *linkstore.Link) bool {
	for attempt := 1; ; attempt++ {
		code, err := h.nextCode()
		if err != nil {
			h.unavailable(w, "issue a short code", err)
			return false
		}
		link.Code = code
		err = h.insertTraced(r.Context(), *link)
		if err == nil {
			return true
		}
		if h.externalIDTaken(w, err) {
			return false
		}
		if !errors.Is(err, linkstore.ErrCodeTaken) || attempt == generatedCodeAttempts {
			h.storeFailed(w, "create link", err)
			return false
		}
		h.log.WarnContext(r.Context(), "generated code was taken by a custom alias; using the next one", "code", code)
	}
}

func (h *Handler) getLink(w http.ResponseWriter, r *http.Request) {
	domain, _, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	if link, ok := h.pathLink(w, r, domain); ok {
		out := []Link{h.present(r, link)}
		h.withReviews(r.Context(), out)
		writeJSON(w, http.StatusOK, out[0])
	}
}

// pathLink reads the link named by the path's {code} on domain from the
// primary, answering 400, 404 or 503 itself when it cannot. A link of a
// workspace the caller does not see is answered exactly as a missing one.
func (h *Handler) pathLink(w http.ResponseWriter, r *http.Request, domain string) (linkstore.Link, bool) {
	code, ok := apiquery.PathCode(w, r)
	if !ok {
		return linkstore.Link{}, false
	}
	link, err := h.deps.Store.Get(r.Context(), domain, code)
	if err == nil && !callerOf(r).sees(link.WorkspaceID) {
		err = linkstore.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, linkstore.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, missingLink(domain, code))
			return linkstore.Link{}, false
		}
		h.storeFailed(w, "read link", err)
		return linkstore.Link{}, false
	}
	return link, true
}

// linkPath is the API path of the link, with its domain.
func linkPath(l linkstore.Link) string {
	p := "/api/v1/links/" + l.Code
	if l.Domain != "" {
		p += "?" + domainParam + "=" + url.QueryEscape(l.Domain)
	}
	return p
}

// deleteLink retires the link (its code is never issued again). Its
// statistics stay unless the owner asks for them to go with
// ?purge_stats=true.
func (h *Handler) deleteLink(w http.ResponseWriter, r *http.Request) {
	code, ok := apiquery.PathCode(w, r)
	if !ok {
		return
	}
	vals, ok := apiquery.Params(w, r, []string{"purge_stats", domainParam})
	if !ok {
		return
	}
	domain, ok := h.queryDomain(w, vals)
	if !ok {
		return
	}
	purge, ok := apiquery.Bool(w, vals, "purge_stats")
	if !ok {
		return
	}
	// The workspace check reads the link first: a link never changes
	// workspace, so the delete that follows is of the link it checked.
	if _, ok := h.pathLink(w, r, domain); !ok {
		return
	}
	deleted, err := h.deps.Store.Delete(r.Context(), domain, code)
	if err != nil {
		if errors.Is(err, linkstore.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, missingLink(domain, code))
			return
		}
		h.storeFailed(w, "delete link", err)
		return
	}
	if h.deps.Cache != nil {
		if err := h.deps.Cache.Delete(r.Context(), deleted.Domain, code); err != nil {
			// The L2 entry then lives until its TTL; say so loudly.
			h.log.ErrorContext(r.Context(), "deleted link is still in the L2 cache until its TTL", "code", code, "err", err)
		}
	}
	h.publishDeleted(deleted, purge)
	h.dropReview(r.Context(), deleted.Domain, code)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) present(r *http.Request, l linkstore.Link) Link {
	out := Link{
		Code:           l.Code,
		Domain:         l.Domain,
		ShortURL:       h.shortBase(l.Domain) + "/" + l.Code,
		URL:            l.URL,
		Workspace:      workspace.Of(l.WorkspaceID),
		ID:             strconv.FormatInt(l.ID, 10),
		RedirectStatus: l.Status,
		CreatedAt:      l.CreatedAt.UTC(),
		Disabled:       l.Disabled,
		SmartView:      smartView(l.Smart, l.URL),
		OrganizeView:   organizeView(l),
		Clicks:         l.Clicks,
		ClicksHumans:   l.ClicksHumans,
	}
	if !l.ExpiresAt.IsZero() {
		t := l.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	if l.TakenDown() {
		out.Takedown = &Takedown{Reason: l.TakedownReason, At: l.TakedownAt.UTC()}
	}
	return out
}

// base is the scheme and host that short URLs start with: the configured
// public URL, never the request's Host header (a client could make the API
// hand out links, and QR codes, to a host of its choosing).
func (h *Handler) base(_ *http.Request) string {
	return strings.TrimSuffix(h.cfg.PublicURL, "/")
}

// CheckPublicURL reports whether public can be the base of short URLs.
func CheckPublicURL(public string) error {
	_, err := publicHost(public)
	return err
}

func publicHost(public string) (string, error) {
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("api: public URL %q must be an absolute http or https URL", public)
	}
	return u.Hostname(), nil
}

// decodeJSON reads one JSON object from r's body into v, answering the
// client itself when the body is unacceptable.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeJSONLimit(w, r, v, maxBodyBytes)
}

// decodeJSONLimit is decodeJSON with a body bound of limit bytes.
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	// browserGuard has checked the Content-Type of every route's body.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeDecodeError(w, err, limit)
		return false
	}
	if dec.More() {
		problem.Write(w, http.StatusBadRequest, "the body must hold exactly one JSON object")
		return false
	}
	return true
}

// writeDecodeError answers a body that did not decode: 413 past limit
// bytes, 400 with the field or position otherwise.
func writeDecodeError(w http.ResponseWriter, err error, limit int64) {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &tooBig):
		problem.Write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
	case errors.Is(err, io.EOF):
		problem.Write(w, http.StatusBadRequest, "the body is empty; send a JSON object")
	case errors.As(err, &syntax):
		problem.Write(w, http.StatusBadRequest, fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &timeErr):
		problem.WriteField(w, http.StatusBadRequest, "expires_at", "expires_at must be an RFC 3339 time such as 2030-12-31T23:59:59Z")
	case errors.As(err, &typeErr):
		problem.WriteField(w, http.StatusBadRequest, typeErr.Field, fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		problem.WriteField(w, http.StatusBadRequest, field, fmt.Sprintf("unknown field %q", field))
	default:
		problem.Write(w, http.StatusBadRequest, "the body is not an acceptable JSON object: "+err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
