package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/stats/hll"
)

// Counts are clicks and unique visitors, humans apart from bots.
type Counts struct {
	// Clicks is Humans + Bots.
	Clicks int64 `json:"clicks"`
	Humans int64 `json:"humans"`
	Bots   int64 `json:"bots"`
	// Visitors are the distinct visitors among humans and bots together,
	// estimated by merging HyperLogLog sketches (about 1% error).
	Visitors      uint64 `json:"visitors"`
	HumanVisitors uint64 `json:"human_visitors"`
	BotVisitors   uint64 `json:"bot_visitors"`
}

// Point is one bucket of a series.
type Point struct {
	// Bucket is the start of the bucket (UTC).
	Bucket time.Time `json:"bucket"`
	Counts
}

// Series is a range of buckets, every one present (zeros where there were
// no clicks), with their totals.
type Series struct {
	From        time.Time   `json:"from"`
	To          time.Time   `json:"to"`
	Granularity Granularity `json:"granularity"`
	Totals      Counts      `json:"totals"`
	Points      []Point     `json:"series"`
}

// LinkStats answers GET /api/v1/stats/links/{code}.
type LinkStats struct {
	Code string `json:"code"`
	// Domain is the link's custom domain; absent for the instance's own
	// host.
	Domain string `json:"domain,omitempty"`
	// LinkID is the link the statistics are of (a decimal string, as the
	// control plane's id).
	LinkID *string `json:"link_id"`
	Series
}

// TopLink is one link of an overview's ranking.
type TopLink struct {
	Code   string `json:"code"`
	LinkID string `json:"link_id"`
	Clicks int64  `json:"clicks"`
	Humans int64  `json:"humans"`
	Bots   int64  `json:"bots"`
}

// Overview answers GET /api/v1/stats/overview: every link together.
type Overview struct {
	Series
	// Traffic is what TopLinks are ranked by.
	Traffic  Traffic   `json:"traffic"`
	TopLinks []TopLink `json:"top_links"`
}

// linkParams, overviewParams and topParams are each route's query
// parameters.
var (
	linkParams     = []string{paramFrom, paramTo, paramGranularity, paramLinkID, paramDomain}
	overviewParams = []string{paramFrom, paramTo, paramGranularity, paramLimit, paramTraffic}
	topParams      = []string{paramFrom, paramTo, paramGranularity, paramLimit, paramTraffic}
	topLinkParams  = []string{paramFrom, paramTo, paramGranularity, paramLimit, paramTraffic, paramLinkID, paramDomain}
)

// linkStats answers GET /api/v1/stats/links/{code}.
func (h *Handler) linkStats(w http.ResponseWriter, r *http.Request) {
	out, ok := h.linkSeries(w, r)
	if ok {
		writeJSON(w, out)
	}
}

// linkCSV answers GET /api/v1/stats/links/{code}/series.csv: the series
// of GET /api/v1/stats/links/{code} as CSV, one line per bucket.
func (h *Handler) linkCSV(w http.ResponseWriter, r *http.Request) {
	out, ok := h.linkSeries(w, r)
	if !ok {
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The code is [A-Za-z0-9_-] (apiquery.PathCode checked it): safe in the header.
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, out.Code, out.Granularity))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"bucket", "clicks", "humans", "bots", "visitors", "human_visitors", "bot_visitors"})
	for _, p := range out.Points {
		_ = cw.Write([]string{
			p.Bucket.Format(time.RFC3339),
			strconv.FormatInt(p.Clicks, 10), strconv.FormatInt(p.Humans, 10), strconv.FormatInt(p.Bots, 10),
			strconv.FormatUint(p.Visitors, 10), strconv.FormatUint(p.HumanVisitors, 10), strconv.FormatUint(p.BotVisitors, 10),
		})
	}
	cw.Flush()
}

// linkSeries reads the series of the link that the request names,
// answering errors itself.
func (h *Handler) linkSeries(w http.ResponseWriter, r *http.Request) (LinkStats, bool) {
	code, ok := apiquery.PathCode(w, r)
	if !ok {
		return LinkStats{}, false
	}
	q, ok := h.query(w, r, linkParams)
	if !ok {
		return LinkStats{}, false
	}
	linkID, ok := h.link(w, r, code, q)
	if !ok {
		return LinkStats{}, false
	}
	id := formatID(linkID)
	out := LinkStats{Code: code, Domain: q.Domain, LinkID: &id}
	var err error
	if out.Series, err = h.series(r.Context(), h.store(r), code, linkID, q); err != nil {
		h.failed(w, r, err)
		return LinkStats{}, false
	}
	return out, true
}

// link finds the link of code that q asks for (linkFor), answering 404
// or 503 itself.
func (h *Handler) link(w http.ResponseWriter, r *http.Request, code string, q Query) (int64, bool) {
	id, err := h.linkFor(r, code, q)
	switch {
	case errors.Is(err, errNoLink):
		noLink(w, code, q)
		return 0, false
	case err != nil:
		h.failed(w, r, err)
		return 0, false
	}
	return id, true
}

// overview answers GET /api/v1/stats/overview.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	q, ok := h.query(w, r, overviewParams)
	if !ok {
		return
	}
	store := h.store(r)
	s, err := h.series(r.Context(), store, "", 0, q)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	links, err := store.TopLinks(r.Context(), q.Granularity, q.From, q.To, q.Traffic, q.Limit)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	out := Overview{Series: s, Traffic: q.Traffic, TopLinks: make([]TopLink, 0, len(links))}
	for _, l := range links {
		out.TopLinks = append(out.TopLinks, TopLink{
			Code: l.Code, LinkID: formatID(l.LinkID),
			Clicks: l.Humans + l.Bots, Humans: l.Humans, Bots: l.Bots,
		})
	}
	writeJSON(w, out)
}

// series reads the buckets of one link (or the roll-up) and fills the
// range: every bucket present, the unique visitors of each bucket and of
// the whole range merged from the sketches, read from store (the
// request's view).
func (h *Handler) series(ctx context.Context, store Store, code string, linkID int64, q Query) (Series, error) {
	n := q.Buckets()
	out := Series{From: q.From, To: q.To, Granularity: q.Granularity, Points: make([]Point, n)}
	step := q.Granularity.Step()
	for i := range out.Points {
		out.Points[i].Bucket = q.From.Add(time.Duration(i) * step)
	}
	rows, err := store.Buckets(ctx, q.Granularity, code, linkID, q.From, q.To)
	if err != nil {
		return out, err
	}
	// One sketch per bucket and class, and one per class for the range.
	humans, bots := make([]*hll.Sketch, n), make([]*hll.Sketch, n)
	allHumans, allBots := hll.New(), hll.New()
	for _, row := range rows {
		i := int(row.Bucket.Sub(q.From) / step)
		if i < 0 || i >= n {
			continue // not aligned to the granularity: not a bucket of ours
		}
		p := &out.Points[i]
		sketches, all := humans, allHumans
		if row.Bot {
			p.Bots += row.Clicks
			sketches, all = bots, allBots
		} else {
			p.Humans += row.Clicks
		}
		p.Clicks += row.Clicks
		if len(row.Visitors) == 0 {
			continue
		}
		sk := hll.New()
		if err := sk.UnmarshalBinary(row.Visitors); err != nil {
			return out, fmt.Errorf("stats api: visitors of %q at %s: %w", code, row.Bucket.Format(time.RFC3339), err)
		}
		if sketches[i] == nil {
			sketches[i] = hll.New()
		}
		sketches[i].Merge(sk)
		all.Merge(sk)
	}
	for i := range out.Points {
		p := &out.Points[i]
		p.HumanVisitors, p.BotVisitors, p.Visitors = estimates(humans[i], bots[i])
		out.Totals.Clicks += p.Clicks
		out.Totals.Humans += p.Humans
		out.Totals.Bots += p.Bots
	}
	out.Totals.HumanVisitors, out.Totals.BotVisitors, out.Totals.Visitors = estimates(allHumans, allBots)
	return out, nil
}

// estimates are the distinct visitors of two sketches (either may be
// nil) and of their union.
func estimates(humans, bots *hll.Sketch) (h, b, both uint64) {
	union := hll.New()
	if humans != nil {
		h = humans.Estimate()
		union.Merge(humans)
	}
	if bots != nil {
		b = bots.Estimate()
		union.Merge(bots)
	}
	return h, b, union.Estimate()
}

// formatID writes a link ID as the control plane does: a decimal string,
// because a Snowflake ID does not fit a JavaScript number.
func formatID(id int64) string { return strconv.FormatInt(id, 10) }
