package api

import (
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
)

// TopItem is one value of a dimension.
type TopItem struct {
	// Value is the dimension's value: a referrer host, an ISO 3166-1
	// country code, a device class, a browser or OS family, a redirect
	// status, a smart link's variant ("url", "rules[0]", "targets[1]").
	// "" is unknown (for the referrer: no Referer, a direct visit).
	Value  string `json:"value"`
	Clicks int64  `json:"clicks"`
	Humans int64  `json:"humans"`
	Bots   int64  `json:"bots"`
}

// Top answers the top-N routes.
type Top struct {
	// Code is the link's code; absent for every link together.
	Code string `json:"code,omitempty"`
	// Domain is the link's custom domain; absent for the instance's own
	// host and for every link.
	Domain string `json:"domain,omitempty"`
	// LinkID is the link the list is of (absent for every link).
	LinkID      *string     `json:"link_id,omitempty"`
	Dimension   string      `json:"dimension"`
	From        time.Time   `json:"from"`
	To          time.Time   `json:"to"`
	Granularity Granularity `json:"granularity"`
	// Traffic is what the items are ranked by; values without clicks of
	// that traffic are left out.
	Traffic Traffic   `json:"traffic"`
	Items   []TopItem `json:"items"`
}

// topAll answers GET /api/v1/stats/top/{dimension}: over every link.
func (h *Handler) topAll(w http.ResponseWriter, r *http.Request) {
	dim, ok := pathDimension(w, r, false)
	if !ok {
		return
	}
	q, ok := h.query(w, r, topParams)
	if !ok {
		return
	}
	h.top(w, r, Top{Dimension: dim}, "", 0, q)
}

// topLink answers GET /api/v1/stats/links/{code}/top/{dimension}.
func (h *Handler) topLink(w http.ResponseWriter, r *http.Request) {
	code, ok := apiquery.PathCode(w, r)
	if !ok {
		return
	}
	dim, ok := pathDimension(w, r, true)
	if !ok {
		return
	}
	q, ok := h.query(w, r, topLinkParams)
	if !ok {
		return
	}
	linkID, ok := h.link(w, r, code, q)
	if !ok {
		return
	}
	id := formatID(linkID)
	h.top(w, r, Top{Code: code, Domain: q.Domain, Dimension: dim, LinkID: &id}, code, linkID, q)
}

// top fills out with the ranking of (code, linkID), or of the roll-up
// for code "", in the request's view, and sends it.
func (h *Handler) top(w http.ResponseWriter, r *http.Request, out Top, code string, linkID int64, q Query) {
	out.From, out.To, out.Granularity, out.Traffic = q.From, q.To, q.Granularity, q.Traffic
	rows, err := h.store(r).Top(r.Context(), q.Granularity, code, linkID, out.Dimension, q.From, q.To, q.Traffic, q.Limit)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	out.Items = make([]TopItem, 0, len(rows))
	for _, c := range rows {
		out.Items = append(out.Items, TopItem{Value: c.Value, Clicks: c.Humans + c.Bots, Humans: c.Humans, Bots: c.Bots})
	}
	writeJSON(w, out)
}
