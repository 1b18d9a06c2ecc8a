package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// StatsQuery is the range and shape of a statistics call (zero fields:
// the server's defaults).
type StatsQuery struct {
	// From and To are UTC dates ("2026-11-01", whole days) or RFC 3339
	// times.
	From, To string
	// Granularity is hour or day.
	Granularity string
	// Limit is the length of a ranking.
	Limit int
	// Traffic is all, human or bot.
	Traffic string
	// LinkID picks one link when the code has had several.
	LinkID string
	// Domain is the link's custom domain.
	Domain string
	// Workspace (ID or name) overrides the client's workspace.
	Workspace string
}

func (q StatsQuery) request(path string) request {
	v := url.Values{}
	setNonEmpty(v, "from", q.From)
	setNonEmpty(v, "to", q.To)
	setNonEmpty(v, "granularity", q.Granularity)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	setNonEmpty(v, "traffic", q.Traffic)
	setNonEmpty(v, "link_id", q.LinkID)
	setNonEmpty(v, "domain", q.Domain)
	r := request{method: http.MethodGet, stats: true, path: path, query: v}
	if q.Workspace != "" {
		r.header = http.Header{WorkspaceHeader: {q.Workspace}}
	}
	return r
}

func statsGet[T any](ctx context.Context, c *Client, r request) (*T, error) {
	var v T
	if err := c.call(ctx, r, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// StatsOverview returns the workspace's totals, series and top links
// (GET /api/v1/stats/overview).
func (c *Client) StatsOverview(ctx context.Context, q StatsQuery) (*Overview, error) {
	return statsGet[Overview](ctx, c, q.request("/api/v1/stats/overview"))
}

// StatsTop ranks a dimension over the workspace (GET
// /api/v1/stats/top/{dimension}).
func (c *Client) StatsTop(ctx context.Context, dimension string, q StatsQuery) (*Top, error) {
	return statsGet[Top](ctx, c, q.request("/api/v1/stats/top/"+seg(dimension)))
}

// LinkStats returns one link's totals and series (GET
// /api/v1/stats/links/{code}).
func (c *Client) LinkStats(ctx context.Context, code string, q StatsQuery) (*LinkStats, error) {
	return statsGet[LinkStats](ctx, c, q.request("/api/v1/stats/links/"+seg(code)))
}

// LinkTop ranks a dimension of one link (GET
// /api/v1/stats/links/{code}/top/{dimension}); "variant" ranks a smart
// link's destinations.
func (c *Client) LinkTop(ctx context.Context, code, dimension string, q StatsQuery) (*Top, error) {
	return statsGet[Top](ctx, c, q.request("/api/v1/stats/links/"+seg(code)+"/top/"+seg(dimension)))
}

// LinkSeriesCSV returns one link's series as CSV (GET
// /api/v1/stats/links/{code}/series.csv).
func (c *Client) LinkSeriesCSV(ctx context.Context, code string, q StatsQuery) ([]byte, error) {
	r := q.request("/api/v1/stats/links/" + seg(code) + "/series.csv")
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set("Accept", "text/csv, application/problem+json")
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// StatsWorkspace says which workspaces the key may read (GET
// /api/v1/stats/workspace).
func (c *Client) StatsWorkspace(ctx context.Context, workspace string) (*WorkspaceView, error) {
	return statsGet[WorkspaceView](ctx, c, StatsQuery{Workspace: workspace}.request("/api/v1/stats/workspace"))
}

// StatsOpenAPI returns the statistics API's OpenAPI document (GET
// /api/v1/stats/openapi.json).
func (c *Client) StatsOpenAPI(ctx context.Context) (json.RawMessage, error) {
	r, err := statsGet[json.RawMessage](ctx, c, request{method: http.MethodGet, stats: true, path: "/api/v1/stats/openapi.json"})
	if err != nil {
		return nil, err
	}
	return *r, nil
}
