package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/snowflake"
)

// Bounds of the management routes.
const (
	// MaxBulk is the most links one bulk create may carry.
	MaxBulk = 1000
	// DefaultPageSize and MaxPageSize bound a list page.
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// UpdateLinkRequest is the body of PATCH /api/v1/links/{code}; absent
// fields stay as they are.
type UpdateLinkRequest struct {
	URL *string `json:"url,omitempty"`
	// ExpiresAt is an RFC 3339 time in the future, or null to clear the
	// expiry.
	ExpiresAt      json.RawMessage `json:"expires_at,omitempty"`
	RedirectStatus *int            `json:"redirect_status,omitempty"`
	Disabled       *bool           `json:"disabled,omitempty"`
	// SmartFields merge into the link's current options: null clears a
	// field, an array replaces the current one whole.
	SmartFields
	// OrganizeFields replace the link's title, tags and notes ("" and []
	// clear them).
	OrganizeFields
}

func (h *Handler) updateLink(w http.ResponseWriter, r *http.Request) {
	domain, code, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	var req UpdateLinkRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	smart, err := parseSmart(req.SmartFields)
	if err != nil {
		problem.WriteDetails(w, *smartProblem(err))
		return
	}
	var u linkstore.Update
	if req.URL != nil {
		raw := strings.TrimSpace(*req.URL)
		if smart.has&hasUTM != 0 {
			raw = withUTM(raw, smart.utm)
		}
		target, err := h.policy(r).CheckContext(r.Context(), raw)
		if err != nil {
			problem.WriteField(w, http.StatusBadRequest, "url", err.Error())
			return
		}
		if why, blocked := h.targetBlocked(target); blocked {
			problem.WriteField(w, http.StatusBadRequest, "url", why)
			return
		}
		u.URL = &target
	}
	if req.RedirectStatus != nil {
		if !validStatus(*req.RedirectStatus) {
			problem.WriteField(w, http.StatusBadRequest, "redirect_status",
				fmt.Sprintf("redirect_status %d is not one of 301, 302, 307, 308 (or 0 for the edge's default)", *req.RedirectStatus))
			return
		}
		u.Status = req.RedirectStatus
	}
	if len(req.ExpiresAt) > 0 {
		var t time.Time // null clears the expiry
		if !bytes.Equal(req.ExpiresAt, []byte("null")) {
			if err := json.Unmarshal(req.ExpiresAt, &t); err != nil {
				problem.WriteField(w, http.StatusBadRequest, "expires_at", "expires_at must be an RFC 3339 time such as 2030-12-31T23:59:59Z, or null to clear it")
				return
			}
			t = t.UTC().Truncate(time.Microsecond)
			if !t.After(h.cfg.Now()) {
				problem.WriteField(w, http.StatusBadRequest, "expires_at", "expires_at must be in the future (null clears it)")
				return
			}
		}
		u.ExpiresAt = &t
	}
	u.Disabled = req.Disabled
	if bad := req.OrganizeFields.check(); bad != nil {
		problem.WriteDetails(w, *bad)
		return
	}
	req.OrganizeFields.update(&u)
	if u == (linkstore.Update{}) && smart.has == 0 {
		problem.Write(w, http.StatusBadRequest, "nothing to change: send one or more of url, expires_at, redirect_status, disabled, "+
			"title, tags, notes, external_id, password, max_clicks, expired_url, rules, targets, forward_query, forward_query_override, preview, cache_max_age, utm")
		return
	}
	// A link never changes workspace: the one checked is the one updated.
	cur, ok := h.pathLink(w, r, domain)
	if !ok {
		return
	}
	if smart.has != 0 {
		// Read, merge, replace whole: a PATCH racing another PATCH of
		// the smart fields of the same link may undo the other's change
		// (the last write wins, as for the other fields).
		merged := smart.apply(cur.Smart)
		if bad := h.checkSmart(r.Context(), h.policy(r), &merged); bad != nil {
			problem.WriteDetails(w, *bad)
			return
		}
		if smart.has&hasUTM != 0 && u.URL == nil {
			target := withUTM(cur.URL, smart.utm)
			u.URL = &target
		}
		if smart.password != nil {
			hash, bad := h.hashPassword(r.Context(), *smart.password)
			if bad != nil {
				problem.WriteDetails(w, *bad)
				return
			}
			merged.PasswordHash = hash
		}
		u.Smart = &merged
	}
	// A link never changes workspace: the one checked is the one updated.
	link, err := h.deps.Store.Update(r.Context(), domain, code, u)
	if err != nil {
		if errors.Is(err, linkstore.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, missingLink(domain, code))
			return
		}
		if errors.Is(err, linkstore.ErrTakenDown) {
			problem.Write(w, http.StatusConflict, takenDownDetail(code))
			return
		}
		if h.externalIDTaken(w, err) {
			return
		}
		h.storeFailed(w, "update link", err)
		return
	}
	// The new state replaces the old in L2 (a disabled or expired link
	// becomes a tombstone there), so edges that miss L1 see it at once.
	h.writeThrough(r.Context(), link)
	h.publishUpdated(link)
	if u.URL != nil {
		h.flagLookalike(r.Context(), link)
	}
	out := []Link{h.present(r, link)}
	h.withReviews(r.Context(), out)
	writeJSON(w, http.StatusOK, out[0])
}

// LinkPage is the answer of GET /api/v1/links.
type LinkPage struct {
	Links []Link `json:"links"`
	// NextCursor fetches the next page (as ?cursor=); absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// listParams are the query parameters of GET /api/v1/links. The
// repeatable tag, which apiquery.Params would refuse when repeated,
// listLinks takes out of the query first.
var listParams = []string{"limit", "cursor", "prefix", "domain", "created_after", "created_before", "tag", "q", "sort", "external_id"}

func (h *Handler) listLinks(w http.ResponseWriter, r *http.Request) {
	r, tags, err := repeatableParam(r, "tag")
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "the query string is malformed: "+err.Error())
		return
	}
	vals, ok := apiquery.Params(w, r, listParams)
	if !ok {
		return
	}
	// Sorted by clicks, the cursor names clicks and ID (clicksCursor);
	// parseListQuery reads the ID cursors of the other orders.
	byClicks := vals.Get("sort") == linkstore.SortClicks
	var cursor *clicksCursor
	if byClicks {
		if cursor = takeClicksCursor(w, vals); cursor == nil {
			return
		}
	}
	q, bad := parseListQuery(vals)
	if bad != nil {
		problem.WriteField(w, http.StatusBadRequest, bad.param, bad.msg)
		return
	}
	organizeQuery(vals, tags, &q)
	if cursor != nil {
		q.BeforeClicks, q.Before = cursor.clicks, cursor.id
	}
	if !checkListQuery(w, q) {
		return
	}
	// A workspace's key lists its workspace; an instance admin the one it
	// names, or every workspace (0).
	q.WorkspaceID = callerOf(r).listWorkspace()
	links, err := h.deps.Store.List(r.Context(), q)
	if err != nil {
		h.storeFailed(w, "list links", err)
		return
	}
	page := LinkPage{Links: make([]Link, 0, len(links))}
	for _, l := range links {
		page.Links = append(page.Links, h.present(r, l))
	}
	h.withReviews(r.Context(), page.Links)
	page.NextCursor = nextCursor(links, q.Limit, func(l linkstore.Link) int64 { return l.ID })
	if byClicks && page.NextCursor != "" {
		last := links[len(links)-1]
		page.NextCursor = encodeClicksCursor(last.Clicks, last.ID)
	}
	writeJSON(w, http.StatusOK, page)
}

// paramError is a bad query parameter value.
type paramError struct{ param, msg string }

func parseListQuery(vals url.Values) (linkstore.ListQuery, *paramError) {
	q := linkstore.ListQuery{}
	var bad *paramError
	if q.Limit, q.Before, bad = parsePage(vals); bad != nil {
		return q, bad
	}
	if v := vals.Get("prefix"); v != "" {
		if !shortcode.WellFormed(v) {
			return q, &paramError{"prefix", "prefix must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'"}
		}
		q.Prefix = v
	}
	if v := vals.Get("domain"); v != "" {
		d, err := normaliseDomain(v)
		if err != nil {
			return q, &paramError{"domain", err.Error()}
		}
		q.Host = d
	}
	for _, p := range []struct {
		name string
		dst  *int64
		adj  func(int64) int64
	}{
		{"created_after", &q.MinID, func(id int64) int64 { return id }},
		{"created_before", &q.MaxID, func(id int64) int64 { return id - 1 }},
	} {
		v := vals.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, &paramError{p.name, p.name + " must be an RFC 3339 time such as 2026-11-01T00:00:00Z"}
		}
		*p.dst = p.adj(snowflake.IDAt(t))
	}
	if q.MinID > 0 && q.MaxID > 0 && q.MinID > q.MaxID {
		return q, &paramError{"created_after", "created_after must be before created_before"}
	}
	return q, nil
}

func normaliseDomain(v string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(v, "."))
	if d == "" || len(d) > 253 {
		return "", errors.New("domain must be a host name such as example.com")
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return "", errors.New("domain must be a host name such as example.com (IDN in its xn-- form)")
		}
	}
	return d, nil
}

// BulkRequest is the body of POST /api/v1/links/bulk.
type BulkRequest struct {
	Links []CreateLinkRequest `json:"links"`
}

// BulkResult is one link's outcome in a bulk create, at the index of its
// request.
type BulkResult struct {
	Status int              `json:"status"`
	Link   *Link            `json:"link,omitempty"`
	Error  *problem.Details `json:"error,omitempty"`
}

// BulkResponse is the answer of a bulk create.
type BulkResponse struct {
	Created int          `json:"created"`
	Failed  int          `json:"failed"`
	Results []BulkResult `json:"results"`
}

func (h *Handler) createBulk(rw http.ResponseWriter, r *http.Request) {
	// A request refused as a whole counts as one link of its outcome; a
	// 200 counts each link by its own status.
	w := &statusWriter{ResponseWriter: rw}
	var results []BulkResult
	defer func() {
		if w.status != http.StatusOK {
			h.observeCreates(CreateBulk, w.status, 1)
			return
		}
		for _, res := range results {
			h.observeCreates(CreateBulk, res.Status, 1)
		}
	}()
	if !h.acquireBulk(w) {
		return
	}
	defer h.releaseBulk()
	items, ok := h.decodeBulk(w, r)
	if !ok {
		return
	}
	req := BulkRequest{Links: items}
	switch {
	case len(req.Links) == 0:
		problem.WriteField(w, http.StatusBadRequest, "links", "links must hold 1 to 1000 links to create")
		return
	}
	results = make([]BulkResult, len(req.Links))
	pending := make([]int, 0, len(req.Links)) // indexes still to insert
	links := make([]linkstore.Link, len(req.Links))
	aliases := make(map[linkstore.Key]int, len(req.Links))
	externalIDs := make(map[string]int) // one workspace: the caller's
	pol := h.policy(r).ForBatch()       // one lookup per host, a bounded DNS wait
	pws := make([]*string, len(req.Links))
	passwords := 0
	for i, item := range req.Links {
		l, pw, bad := h.newLink(r, pol, item)
		if bad == nil && pw != nil {
			if passwords++; passwords > h.cfg.MaxBulkPasswords {
				bad = &problem.Details{Status: http.StatusBadRequest, Field: "password",
					Detail: fmt.Sprintf("password: a bulk create sets at most %d passwords (each takes tens of milliseconds to hash); create this link in another request", h.cfg.MaxBulkPasswords)}
			}
		}
		if bad == nil && item.Alias != "" {
			key := linkstore.Key{Domain: l.Domain, Code: item.Alias}
			if first, dup := aliases[key]; dup {
				bad = &problem.Details{Status: http.StatusConflict, Field: "alias",
					Detail: fmt.Sprintf("the alias %q is already used by link %d of this request", item.Alias, first)}
			}
			aliases[key] = i
		}
		if bad == nil && l.ExternalID != "" {
			if first, dup := externalIDs[l.ExternalID]; dup {
				bad = externalIDRepeated(l.ExternalID, first)
			}
			externalIDs[l.ExternalID] = i
		}
		if bad != nil {
			bad.Title, bad.Type = http.StatusText(bad.Status), "about:blank"
			results[i] = BulkResult{Status: bad.Status, Error: bad}
			continue
		}
		id, err := h.deps.Issuer.NewID()
		if err != nil {
			h.unavailable(w, "issue link IDs", err)
			return
		}
		l.ID, l.Code = id, item.Alias
		links[i] = l
		pws[i] = pw
		pending = append(pending, i)
	}

	unavailable := func(detail string) BulkResult {
		return BulkResult{Status: http.StatusServiceUnavailable, Error: &problem.Details{
			Type:   "about:blank",
			Status: http.StatusServiceUnavailable, Title: http.StatusText(http.StatusServiceUnavailable), Detail: detail}}
	}
	// A second run's links are answered before the budgets: they create
	// nothing, so they spend none.
	pending = h.bulkAlreadyThere(r, pending, links, results)
	pending, budget, ok := h.bulkBudget(w, r, callerOf(r).homeWorkspace(), pending, results)
	if !ok {
		return
	}
	spent := slices.Clone(pending)
	if passwords > 0 {
		pending = h.bulkHash(r, pending, links, pws, results)
	}
	defer func() {
		// Give back the creates that failed on the server's side: every
		// one when the request as a whole did.
		failed := len(spent)
		if w.status == http.StatusOK {
			failed = 0
			for _, i := range spent {
				if results[i].Status == http.StatusServiceUnavailable {
					failed++
				}
			}
		}
		h.refundCreates(r, budget, failed)
	}()
	for attempt := 1; len(pending) > 0; attempt++ {
		batch := make([]linkstore.Link, 0, len(pending))
		inBatch := make([]int, 0, len(pending))
		for _, i := range pending {
			if req.Links[i].Alias == "" {
				code, err := h.nextCode()
				if err != nil {
					if attempt == 1 && len(inBatch) == 0 {
						h.unavailable(w, "issue short codes", err)
						return
					}
					results[i] = unavailable("no short code could be issued right now; retry this link")
					continue
				}
				links[i].Code = code
			}
			batch = append(batch, links[i])
			inBatch = append(inBatch, i)
		}
		errs := h.deps.Store.CreateMany(r.Context(), batch)
		var retry []int
		for k, i := range inBatch {
			err := errs[k]
			switch {
			case err == nil:
				h.writeThrough(r.Context(), links[i])
				h.publishCreated(r.Context(), links[i])
				h.flagLookalike(r.Context(), links[i])
				h.fetchTitle(links[i])
				l := h.present(r, links[i])
				results[i] = BulkResult{Status: http.StatusCreated, Link: &l}
			case errors.Is(err, linkstore.ErrCodeTaken) && req.Links[i].Alias != "":
				results[i] = h.bulkAliasTaken(r, links[i].Domain, req.Links[i].Alias)
			case errors.Is(err, linkstore.ErrExternalIDTaken):
				results[i] = h.bulkExternalIDTaken(r, err)
			case errors.Is(err, linkstore.ErrCodeTaken) && attempt < generatedCodeAttempts:
				retry = append(retry, i) // a custom alias holds this generated code
			default:
				// Earlier rounds may have stored links already: report
				// this one's failure and keep their results.
				h.log.ErrorContext(r.Context(), "bulk create: a link could not be stored", "code", links[i].Code, "err", err)
				results[i] = unavailable("the link could not be stored; retry it")
			}
		}
		pending = retry
	}

	resp := BulkResponse{Results: results}
	for _, res := range results {
		if res.Status == http.StatusCreated {
			resp.Created++
		} else {
			resp.Failed++
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// bulkHash hashes the passwords of the pending links of a bulk create
// (hashAll), once the links are valid and within the budgets, recording
// the refusal of a link whose password failed in results (a 503, whose
// create is refunded); it returns the links still pending.
func (h *Handler) bulkHash(r *http.Request, pending []int, links []linkstore.Link, pws []*string, results []BulkResult) []int {
	hashes := make([]*string, len(pws))
	for i := range pws {
		hashes[i] = &links[i].Smart.PasswordHash
	}
	bad := h.hashAll(r.Context(), pws, hashes)
	return slices.DeleteFunc(pending, func(i int) bool {
		if b := bad[i]; b != nil {
			b.Title, b.Type = http.StatusText(b.Status), "about:blank"
			results[i] = BulkResult{Status: b.Status, Error: b}
			return true
		}
		return false
	})
}
