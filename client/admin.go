package client

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// get is a GET of a JSON answer into a new T.
func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	var v T
	if err := c.call(ctx, request{method: http.MethodGet, path: path, query: q}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// send is a call with a JSON body whose JSON answer goes into a new T.
func send[T any](ctx context.Context, c *Client, method, path string, q url.Values, body any) (*T, error) {
	var v T
	if err := c.call(ctx, request{method: method, path: path, query: q, body: body}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListKeys lists the API keys the caller administers (GET
// /api/v1/admin/keys).
func (c *Client) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	r, err := get[KeyList](ctx, c, "/api/v1/admin/keys", nil)
	if err != nil {
		return nil, err
	}
	return r.Keys, nil
}

// CreateKey mints an API key (POST /api/v1/admin/keys); its secret is
// in the answer only.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*NewKey, error) {
	return send[NewKey](ctx, c, http.MethodPost, "/api/v1/admin/keys", nil, req)
}

// RevokeKey revokes a key (DELETE /api/v1/admin/keys/{id}).
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/keys/" + seg(id)}, nil)
}

// Health is the liveness probe (GET /api/v1/healthz).
func (c *Client) Health(ctx context.Context) (*HealthStatus, error) {
	return get[HealthStatus](ctx, c, "/api/v1/healthz", nil)
}

// Ready is the readiness probe (GET /api/v1/readyz): an error (503)
// while the node cannot serve writes.
func (c *Client) Ready(ctx context.Context) (*HealthStatus, error) {
	return get[HealthStatus](ctx, c, "/api/v1/readyz", nil)
}

// Cluster returns the Raft cluster's state (GET /api/v1/cluster).
func (c *Client) Cluster(ctx context.Context) (*ClusterInfo, error) {
	return get[ClusterInfo](ctx, c, "/api/v1/cluster", nil)
}

// JoinCluster adds a node (POST /api/v1/cluster/join).
func (c *Client) JoinCluster(ctx context.Context, req JoinRequest) (*ClusterInfo, error) {
	return send[ClusterInfo](ctx, c, http.MethodPost, "/api/v1/cluster/join", nil, req)
}

// RemoveClusterNode removes a node (DELETE /api/v1/cluster/nodes/{id}).
func (c *Client) RemoveClusterNode(ctx context.Context, id string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/cluster/nodes/" + seg(id)}, nil)
}

// ListPartitions lists the statistics database's partitions (GET
// /api/v1/admin/partitions).
func (c *Client) ListPartitions(ctx context.Context) (*PartitionList, error) {
	return get[PartitionList](ctx, c, "/api/v1/admin/partitions", nil)
}

// CreatePartitions makes partitions ahead (POST
// /api/v1/admin/partitions).
func (c *Client) CreatePartitions(ctx context.Context, req CreatePartitionsRequest) (*CreatedPartitions, error) {
	return send[CreatedPartitions](ctx, c, http.MethodPost, "/api/v1/admin/partitions", nil, req)
}

// PartitionPolicy returns the partition policy (GET
// /api/v1/admin/partitions/policy).
func (c *Client) PartitionPolicy(ctx context.Context) (*PartitionPolicy, error) {
	return get[PartitionPolicy](ctx, c, "/api/v1/admin/partitions/policy", nil)
}

// SetPartitionPolicy replaces the partition policy (PUT
// /api/v1/admin/partitions/policy).
func (c *Client) SetPartitionPolicy(ctx context.Context, p PartitionPolicy) (*PartitionPolicy, error) {
	return send[PartitionPolicy](ctx, c, http.MethodPut, "/api/v1/admin/partitions/policy", nil, p)
}

// DropPartition drops a partition (DELETE
// /api/v1/admin/partitions/{name}).
func (c *Client) DropPartition(ctx context.Context, name string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/partitions/" + seg(name)}, nil)
}

// OpenAPI returns the control plane's OpenAPI document (GET
// /api/v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	r, err := get[json.RawMessage](ctx, c, "/api/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	return *r, nil
}

// ListBlockedDomains returns the replicated domain blocklist (GET
// /api/v1/admin/blocklist).
func (c *Client) ListBlockedDomains(ctx context.Context) ([]string, error) {
	r, err := get[struct {
		Domains []string `json:"domains"`
	}](ctx, c, "/api/v1/admin/blocklist", nil)
	if err != nil {
		return nil, err
	}
	return r.Domains, nil
}

// BlockDomain adds a domain to the blocklist (PUT
// /api/v1/admin/blocklist/{domain}).
func (c *Client) BlockDomain(ctx context.Context, domain string) error {
	return c.call(ctx, request{method: http.MethodPut, path: "/api/v1/admin/blocklist/" + seg(domain)}, nil)
}

// UnblockDomain removes a domain from the blocklist (DELETE
// /api/v1/admin/blocklist/{domain}).
func (c *Client) UnblockDomain(ctx context.Context, domain string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/blocklist/" + seg(domain)}, nil)
}

// pageQuery is the limit and cursor of the admin listings.
func pageQuery(limit int, cursor string) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	setNonEmpty(q, "cursor", cursor)
	return q
}

// ListFlaggedLinks returns a page of the review queue (GET
// /api/v1/admin/review).
func (c *Client) ListFlaggedLinks(ctx context.Context, limit int, cursor string) (*ReviewPage, error) {
	return get[ReviewPage](ctx, c, "/api/v1/admin/review", pageQuery(limit, cursor))
}

// FlaggedLinks iterates over the whole review queue, limit links a page.
func (c *Client) FlaggedLinks(ctx context.Context, limit int) iter.Seq2[FlaggedLink, error] {
	return pages("", func(cursor string) ([]FlaggedLink, string, error) {
		p, err := c.ListFlaggedLinks(ctx, limit, cursor)
		if err != nil {
			return nil, "", err
		}
		return p.Links, p.NextCursor, nil
	})
}

// ResolveFlaggedLink clears a link's review flag (DELETE
// /api/v1/admin/review/{code}).
func (c *Client) ResolveFlaggedLink(ctx context.Context, code, domain string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/review/" + seg(code), query: domainQuery(domain)}, nil)
}

// TakeDownLink takes a link down (POST
// /api/v1/admin/links/{code}/takedown).
func (c *Client) TakeDownLink(ctx context.Context, code, domain, reason string) (*Link, error) {
	return send[Link](ctx, c, http.MethodPost, "/api/v1/admin/links/"+seg(code)+"/takedown", domainQuery(domain), TakedownRequest{Reason: reason})
}

// LiftTakedown restores a taken-down link (DELETE
// /api/v1/admin/links/{code}/takedown).
func (c *Client) LiftTakedown(ctx context.Context, code, domain string) (*Link, error) {
	return send[Link](ctx, c, http.MethodDelete, "/api/v1/admin/links/"+seg(code)+"/takedown", domainQuery(domain), nil)
}

// ReleaseCode frees a deleted link's code for reuse (DELETE
// /api/v1/admin/codes/{code}).
func (c *Client) ReleaseCode(ctx context.Context, code, domain string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/codes/" + seg(code), query: domainQuery(domain)}, nil)
}

// ListAudit returns a page of the audit log (GET /api/v1/admin/audit).
func (c *Client) ListAudit(ctx context.Context, aq AuditQuery) (*AuditPage, error) {
	q := pageQuery(aq.Limit, aq.Cursor)
	setNonEmpty(q, "key", aq.Key)
	setNonEmpty(q, "action", aq.Action)
	setNonEmpty(q, "target", aq.Target)
	setNonEmpty(q, "outcome", aq.Outcome)
	if aq.Status != 0 {
		q.Set("status", strconv.Itoa(aq.Status))
	}
	setTime(q, "since", aq.Since)
	setTime(q, "until", aq.Until)
	return get[AuditPage](ctx, c, "/api/v1/admin/audit", q)
}

// AuditEntries iterates over every audit entry the query matches,
// from aq.Cursor on.
func (c *Client) AuditEntries(ctx context.Context, aq AuditQuery) iter.Seq2[AuditEntry, error] {
	return pages(aq.Cursor, func(cursor string) ([]AuditEntry, string, error) {
		aq.Cursor = cursor
		p, err := c.ListAudit(ctx, aq)
		if err != nil {
			return nil, "", err
		}
		return p.Entries, p.NextCursor, nil
	})
}

// CreateReport files an abuse report (POST /api/v1/reports); no key is
// needed.
func (c *Client) CreateReport(ctx context.Context, req ReportRequest) (*ReportAccepted, error) {
	return send[ReportAccepted](ctx, c, http.MethodPost, "/api/v1/reports", nil, req)
}

// raw is a GET whose answer is not JSON.
func (c *Client) raw(ctx context.Context, path string, q url.Values, accept string) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, header: http.Header{"Accept": {accept + ", application/problem+json"}}})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// ReportFormScript returns the report page's script (GET
// /api/v1/reports/form.js).
func (c *Client) ReportFormScript(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/api/v1/reports/form.js", nil, "text/javascript")
}

// ReportForm returns the report page's HTML (GET /report), prefilled
// with shortURL when it is not "".
func (c *Client) ReportForm(ctx context.Context, shortURL string) ([]byte, error) {
	q := url.Values{}
	setNonEmpty(q, "url", shortURL)
	return c.raw(ctx, "/report", q, "text/html")
}

// ListReports returns a page of reports (GET /api/v1/admin/reports);
// state is open, resolved or all ("" = open).
func (c *Client) ListReports(ctx context.Context, state string, limit int, cursor string) (*ReportPage, error) {
	q := pageQuery(limit, cursor)
	setNonEmpty(q, "state", state)
	return get[ReportPage](ctx, c, "/api/v1/admin/reports", q)
}

// Reports iterates over every report in state, limit a page.
func (c *Client) Reports(ctx context.Context, state string, limit int) iter.Seq2[ReportInfo, error] {
	return pages("", func(cursor string) ([]ReportInfo, string, error) {
		p, err := c.ListReports(ctx, state, limit, cursor)
		if err != nil {
			return nil, "", err
		}
		return p.Reports, p.NextCursor, nil
	})
}

// ResolveReport closes a report (POST
// /api/v1/admin/reports/{id}/resolve).
func (c *Client) ResolveReport(ctx context.Context, id string, req ResolveRequest) (*ReportInfo, error) {
	return send[ReportInfo](ctx, c, http.MethodPost, "/api/v1/admin/reports/"+seg(id)+"/resolve", nil, req)
}

// DomainAllowed asks whether a certificate may be obtained for domain
// (GET /api/v1/domains/allowed): true for a verified custom domain,
// false when the server answers 404, an error otherwise.
func (c *Client) DomainAllowed(ctx context.Context, domain string) (bool, error) {
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/domains/allowed", query: url.Values{"domain": {domain}}}, nil)
	var p *Problem
	var se *StatusError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &p) && p.Status == http.StatusNotFound, errors.As(err, &se) && se.Status == http.StatusNotFound:
		return false, nil
	}
	return false, err
}
