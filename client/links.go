package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CreateLink shortens a URL (POST /api/v1/links). Not retried on a 503
// without Retry-After: a create is not idempotent.
func (c *Client) CreateLink(ctx context.Context, req CreateLinkRequest) (*Link, error) {
	var l Link
	if err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/links", body: req}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateLinksBulk creates up to 1,000 links in one call (POST
// /api/v1/links/bulk); each link succeeds or fails on its own.
func (c *Client) CreateLinksBulk(ctx context.Context, links []CreateLinkRequest) (*BulkResponse, error) {
	var r BulkResponse
	if err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/links/bulk", body: BulkRequest{Links: links}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListLinksQuery filters and pages a link listing (zero fields: no
// filter).
type ListLinksQuery struct {
	// Limit is the page size (server default when 0).
	Limit int
	// Cursor is a page's NextCursor, to fetch the next one.
	Cursor string
	// Prefix keeps links whose code starts with it.
	Prefix string
	// Domain keeps the links of one custom domain.
	Domain        string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// Tags keeps links that have every one of them (ASCII case ignored).
	Tags []string
	// Q searches code, target, title and tags (3 to 200 characters,
	// case-insensitive substring).
	Q string
	// Sort is the order: "created" (the default, newest first) or
	// "clicks" (most clicked first, ties newest first).
	Sort string
	// ExternalID keeps the link with this external ID (exact).
	ExternalID string
}

func (q ListLinksQuery) values() url.Values {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	setNonEmpty(v, "cursor", q.Cursor)
	setNonEmpty(v, "prefix", q.Prefix)
	setNonEmpty(v, "domain", q.Domain)
	setTime(v, "created_after", q.CreatedAfter)
	setTime(v, "created_before", q.CreatedBefore)
	for _, t := range q.Tags {
		v.Add("tag", t)
	}
	setNonEmpty(v, "q", q.Q)
	setNonEmpty(v, "sort", q.Sort)
	setNonEmpty(v, "external_id", q.ExternalID)
	return v
}

func setNonEmpty(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setTime(v url.Values, k string, t time.Time) {
	if !t.IsZero() {
		v.Set(k, t.UTC().Format(time.RFC3339Nano))
	}
}

// ListLinks returns one page of the workspace's links (GET
// /api/v1/links); Links walks every page.
func (c *Client) ListLinks(ctx context.Context, q ListLinksQuery) (*LinkPage, error) {
	var p LinkPage
	if err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/links", query: q.values()}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Links iterates over every link the query matches, fetching pages as
// the loop needs them. A failed page is yielded as an error and ends
// the iteration.
func (c *Client) Links(ctx context.Context, q ListLinksQuery) iter.Seq2[Link, error] {
	return pages(q.Cursor, func(cursor string) ([]Link, string, error) {
		q.Cursor = cursor
		p, err := c.ListLinks(ctx, q)
		if err != nil {
			return nil, "", err
		}
		return p.Links, p.NextCursor, nil
	})
}

// pages walks a cursor-paged listing from cursor: fetch returns a page's
// items and the next cursor ("" on the last page).
func pages[T any](cursor string, fetch func(cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			// A server that hands the same cursor back would loop forever.
			if next == "" || next == cursor {
				return
			}
			cursor = next
		}
	}
}

// GetLink returns a link (GET /api/v1/links/{code}); domain is its
// custom domain, "" for the instance's own host.
func (c *Client) GetLink(ctx context.Context, code, domain string) (*Link, error) {
	var l Link
	if err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/links/" + seg(code), query: domainQuery(domain)}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// UpdateLink changes a link (PATCH /api/v1/links/{code}), smart-link
// fields included.
func (c *Client) UpdateLink(ctx context.Context, code, domain string, req UpdateLinkRequest) (*Link, error) {
	var l Link
	if err := c.call(ctx, request{method: http.MethodPatch, path: "/api/v1/links/" + seg(code), query: domainQuery(domain), body: req}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// DeleteLinkOptions say which link to delete and what goes with it.
type DeleteLinkOptions struct {
	// Domain is the link's custom domain ("" = the instance's host).
	Domain string
	// PurgeStats deletes the link's statistics too.
	PurgeStats bool
}

// DeleteLink deletes a link (DELETE /api/v1/links/{code}).
func (c *Client) DeleteLink(ctx context.Context, code string, opts DeleteLinkOptions) error {
	q := url.Values{}
	setNonEmpty(q, "domain", opts.Domain)
	if opts.PurgeStats {
		q.Set("purge_stats", "true")
	}
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/links/" + seg(code), query: q}, nil)
}

// QROptions shape a link's QR code (zero fields: the server's defaults).
type QROptions struct {
	// Format is "png" or "svg".
	Format string
	// Size is the image's width in pixels (PNG).
	Size int
	// Margin is the quiet zone in modules; nil: the default.
	Margin *int
	// ECC is the error correction level: L, M, Q or H.
	ECC    string
	Domain string
}

// LinkQR returns a link's QR code image and its media type (GET
// /api/v1/links/{code}/qr).
func (c *Client) LinkQR(ctx context.Context, code string, opts QROptions) ([]byte, string, error) {
	q := url.Values{}
	setNonEmpty(q, "format", opts.Format)
	if opts.Size > 0 {
		q.Set("size", strconv.Itoa(opts.Size))
	}
	if opts.Margin != nil {
		q.Set("margin", strconv.Itoa(*opts.Margin))
	}
	setNonEmpty(q, "ecc", opts.ECC)
	setNonEmpty(q, "domain", opts.Domain)
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/links/" + seg(code) + "/qr", query: q,
		header: http.Header{"Accept": {"image/png, image/svg+xml, application/problem+json"}}})
	if err != nil {
		return nil, "", err
	}
	return resp.body, resp.header.Get("Content-Type"), nil
}
