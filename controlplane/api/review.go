package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/targeturl"
)

// ReviewStore holds the links flagged for review (their target was put on
// a block list after they were created, or is a look-alike host accepted
// with lookalike_hosts flag); blockset.Store implements it.
type ReviewStore interface {
	Flag(ctx context.Context, reviews []blockset.Review) error
	Unflag(ctx context.Context, domain, code string) (bool, error)
	Reviews(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]blockset.Review, error)
	ListReviews(ctx context.Context, limit int, after blockset.Review) ([]blockset.Review, error)
}

// Review is why a link is flagged, as the link JSON shows it.
type Review struct {
	Reason string    `json:"reason"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// ReviewPage is the body of GET /api/v1/admin/review.
type ReviewPage struct {
	Links []ReviewedLink `json:"links"`
	// NextCursor fetches the next page (as ?cursor=); absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ReviewedLink is a flagged link's key and review.
type ReviewedLink struct {
	Code string `json:"code"`
	// Domain is the link's custom domain; absent on the instance's own
	// host.
	Domain string `json:"domain,omitempty"`
	Review
}

func (h *Handler) reviewRoutes() {
	h.handle("GET /api/v1/admin/review", admin, h.listReviews)
	h.handle("DELETE /api/v1/admin/review/{code}", admin, h.resolveReview)
}

// withReviews fills in the review of the links that have one: each link's
// own flag, on its domain, not that of another domain's link with the
// same code. A failure
// to read the flags only leaves them out (logged): the links are still
// worth answering.
func (h *Handler) withReviews(ctx context.Context, links []Link) {
	if h.deps.Reviews == nil || len(links) == 0 {
		return
	}
	keys := make([]linkstore.Key, len(links))
	for i, l := range links {
		keys[i] = linkstore.Key{Domain: l.Domain, Code: l.Code}
	}
	rs, err := h.deps.Reviews.Reviews(ctx, keys)
	if err != nil {
		h.log.Warn("could not read the review flags of links", "err", err)
		return
	}
	for i := range links {
		if r, ok := rs[keys[i]]; ok {
			links[i].Review = &Review{Reason: r.Reason, Source: r.Source, At: r.At}
		}
	}
}

// flagLookalike flags a new or retargeted link whose target host is a
// look-alike, accepted under lookalike_hosts flag.
func (h *Handler) flagLookalike(ctx context.Context, l linkstore.Link) {
	if !h.cfg.FlagLookalike || h.deps.Reviews == nil {
		return
	}
	u, err := url.Parse(l.URL)
	if err != nil {
		return
	}
	why := targeturl.Lookalike(u.Hostname())
	if why == "" {
		return
	}
	r := blockset.Review{Domain: l.Domain, Code: l.Code, Reason: "the host " + u.Hostname() + " is a look-alike: " + why, Source: "lookalike", At: h.cfg.Now().UTC()}
	if err := h.deps.Reviews.Flag(ctx, []blockset.Review{r}); err != nil {
		h.log.Error("could not flag a link with a look-alike host for review", "code", l.Code, "domain", l.Domain, "err", err)
	}
}

// dropReview removes the review flag of a deleted link: there is nothing
// left to review. A failure leaves a stale flag (logged), which an admin
// resolves by hand.
func (h *Handler) dropReview(ctx context.Context, domain, code string) {
	if h.deps.Reviews == nil {
		return
	}
	if _, err := h.deps.Reviews.Unflag(ctx, domain, code); err != nil {
		h.log.Warn("the review flag of a deleted link stays", "code", code, "domain", domain, "err", err)
	}
}

var reviewParams = []string{"limit", "cursor"}

func (h *Handler) listReviews(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, reviewParams)
	if !ok {
		return
	}
	limit, bad := pageSize(vals)
	if bad != nil {
		problem.WriteField(w, http.StatusBadRequest, bad.param, bad.msg)
		return
	}
	var after blockset.Review
	if vals.Has("cursor") {
		var err error
		if after, err = decodeReviewCursor(vals.Get("cursor")); err != nil {
			problem.WriteField(w, http.StatusBadRequest, "cursor", err.Error())
			return
		}
	}
	if !have(w, h.deps.Reviews != nil, "review flags") {
		return
	}
	rs, err := h.deps.Reviews.ListReviews(r.Context(), limit, after)
	if err != nil {
		h.storeFailed(w, "list flagged links", err)
		return
	}
	page := ReviewPage{Links: make([]ReviewedLink, 0, len(rs))}
	for _, rv := range rs {
		page.Links = append(page.Links, ReviewedLink{Code: rv.Code, Domain: rv.Domain, Review: Review{Reason: rv.Reason, Source: rv.Source, At: rv.At}})
	}
	if len(rs) == limit {
		page.NextCursor = encodeReviewCursor(rs[len(rs)-1])
	}
	writeJSON(w, http.StatusOK, page)
}

// resolveReview resolves the flag of the link {code} on ?domain= (the own
// host when absent): another domain's link with the same code keeps its
// own flag.
func (h *Handler) resolveReview(w http.ResponseWriter, r *http.Request) {
	domain, code, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	if !have(w, h.deps.Reviews != nil, "review flags") {
		return
	}
	found, err := h.deps.Reviews.Unflag(r.Context(), domain, code)
	if err != nil {
		h.storeFailed(w, "resolve a review flag", err)
		return
	}
	if !found {
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("the link %q is not flagged for review", shownLink(domain, code)))
		return
	}
	h.log.Info("review flag resolved", "code", code, "domain", domain)
	w.WriteHeader(http.StatusNoContent)
}

// A review cursor is the last review of a page: its time in Unix
// microseconds, its code and, for a custom domain's link, its domain,
// space-separated and base64url-encoded. A cursor without a domain (as
// given out before flags had one) is the own host's.
func encodeReviewCursor(r blockset.Review) string {
	s := strconv.FormatInt(r.At.UnixMicro(), 10) + " " + r.Code
	if r.Domain != "" {
		s += " " + r.Domain
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeReviewCursor(s string) (blockset.Review, error) {
	bad := fmt.Errorf("cursor is not one this API gave out; use next_cursor from the previous page")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return blockset.Review{}, bad
	}
	at, rest, ok := strings.Cut(string(b), " ")
	code, domain, _ := strings.Cut(rest, " ")
	micros, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || code == "" || strings.Contains(domain, " ") {
		return blockset.Review{}, bad
	}
	return blockset.Review{Domain: domain, Code: code, At: time.UnixMicro(micros).UTC()}, nil
}

// shownLink names the link (domain, code) in an answer's words: its code
// alone on the own host, domain/code on a custom domain.
func shownLink(domain, code string) string {
	if domain == "" {
		return code
	}
	return domain + "/" + code
}
