// Package client is a Go client of Shortify's REST APIs: the control
// plane's (links, keys, workspaces, domains, administration, cluster) and
// the statistics API. It depends on the standard library only, so that a
// program that shortens links does not link the server (Caddy, pgx, Raft).
//
// Every method takes a context.Context. Problem documents (RFC 9457) come
// back as *Problem, usable with errors.As; other failures as *StatusError.
// A request answered 503 is retried, within bounds, when it is safe to
// send again (see WithRetries).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WorkspaceHeader names the workspace a call acts in (by ID or name); the
// server reads it on every route scoped to a workspace.
const WorkspaceHeader = "Shortify-Workspace"

// Client calls one Shortify instance. It is safe for concurrent use; the
// With* methods return copies, so one Client can serve several workspaces.
type Client struct {
	base       *url.URL
	stats      *url.URL
	key        string
	workspace  string
	hc         *http.Client
	userAgent  string
	maxRetries int
	maxWait    time.Duration
}

// Option configures a Client in New.
type Option func(*Client) error

// WithAPIKey sends key as "Authorization: Bearer <key>", the form the
// dashboard and the docs use.
func WithAPIKey(key string) Option {
	return func(c *Client) error { c.key = key; return nil }
}

// WithWorkspace sends the Shortify-Workspace header (an ID or a name) on
// every call; an instance admin's key needs it to act in a workspace.
func WithWorkspace(ws string) Option {
	return func(c *Client) error { c.workspace = ws; return nil }
}

// WithHTTPClient sets the http.Client (timeouts, transport, proxies);
// nil keeps http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc != nil {
			c.hc = hc
		}
		return nil
	}
}

// WithUserAgent sets the User-Agent header, so that operators can tell
// programs apart in their logs.
func WithUserAgent(ua string) Option {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// WithStatsURL sets where the statistics API answers when it is not
// behind the same address as the control plane (a separate stats
// instance); by default the base URL serves both.
func WithStatsURL(raw string) Option {
	return func(c *Client) error {
		u, err := parseBase(raw)
		if err != nil {
			return fmt.Errorf("stats URL: %w", err)
		}
		c.stats = u
		return nil
	}
}

// WithRetries bounds the retries of a call answered 503: at most n more
// attempts, and none when the server asks to wait longer than maxWait
// (the 503 is returned instead). The defaults are 3 and 30 s.
func WithRetries(n int, maxWait time.Duration) Option {
	return func(c *Client) error {
		if n < 0 || maxWait < 0 {
			return errors.New("retries and their wait must not be negative")
		}
		c.maxRetries, c.maxWait = n, maxWait
		return nil
	}
}

// DefaultUserAgent is sent when WithUserAgent sets none.
const DefaultUserAgent = "shortify-go-client"

// New returns a client of the instance at baseURL (for example
// "https://sho.example"; a path prefix is kept).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := parseBase(baseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	c := &Client{base: u, hc: http.DefaultClient, userAgent: DefaultUserAgent, maxRetries: 3, maxWait: 30 * time.Second}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("client option: %w", err)
		}
	}
	if c.stats == nil {
		c.stats = c.base
	}
	return c, nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is no http(s) URL with a host", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// InWorkspace returns a copy of c that acts in workspace ws (an ID or a
// name; "" sends no header).
func (c *Client) InWorkspace(ws string) *Client {
	cp := *c
	cp.workspace = ws
	return &cp
}

// Problem is an RFC 9457 problem document, the body of the APIs' 4xx and
// 5xx answers. Field names the JSON path of the offending input when the
// server knows it (for example "rules[0].when.country").
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
	// Code and Domain name the existing link that a 409 conflicts with
	// (an external ID that a link of the workspace has already).
	Code   string `json:"code,omitempty"`
	Domain string `json:"domain,omitempty"`
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration `json:"-"`
}

// Error says the status, title, detail and field, so that a log line
// alone tells what was refused.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shortify: %d %s", p.Status, p.Title)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	if p.Field != "" {
		b.WriteString(" (field " + p.Field + ")")
	}
	return b.String()
}

// StatusError is a non-2xx answer that carried no problem document (a
// proxy's error page, for example).
type StatusError struct {
	Status int
	// Body is the start of the answer's body, for the log.
	Body string
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration
}

// Error says the status and the start of the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("shortify: HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// request is one call: the method, where, and what to send.
type request struct {
	method string
	stats  bool
	path   string // escaped, from the base URL
	query  url.Values
	body   any
	header http.Header
}

// response is a 2xx answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds what the client reads of an answer: the largest is a
// bulk answer of 1,000 links.
const maxBody = 64 << 20

// idempotent methods may be sent again whatever the server did with them.
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// do sends r, retrying 503s within the client's bounds, and returns the
// 2xx answer or the error.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
	}
	base := c.base
	if r.stats {
		base = c.stats
	}
	target := base.String() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r, target, body)
		if err == nil {
			return resp, nil
		}
		wait, retry := c.retryable(r.method, err, attempt)
		if !retry {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s %s: waiting to retry: %w (last answer: %w)", r.method, r.path, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// defaultWait is the pause before retrying an idempotent call answered
// 503 without Retry-After.
const defaultWait = time.Second

// retryable says whether a failed attempt is sent again, and after how
// long: only 503s; an idempotent call always, another only when the
// server's Retry-After says it may be sent again; never past the bounds.
func (c *Client) retryable(method string, err error, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries {
		return 0, false
	}
	var p *Problem
	var se *StatusError
	var wait time.Duration
	switch {
	case errors.As(err, &p) && p.Status == http.StatusServiceUnavailable:
		wait = p.RetryAfter
	case errors.As(err, &se) && se.Status == http.StatusServiceUnavailable:
		wait = se.RetryAfter
	default:
		return 0, false
	}
	hasRA := wait > 0
	if !hasRA {
		if !idempotent(method) {
			return 0, false
		}
		wait = defaultWait
	}
	if wait > c.maxWait {
		return 0, false
	}
	return wait, true
}

func (c *Client) once(ctx context.Context, r request, target string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, application/problem+json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.workspace != "" && req.Header.Get(WorkspaceHeader) == "" {
		req.Header.Set(WorkspaceHeader, c.workspace)
	}
	req.Header.Set("User-Agent", c.userAgent)
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", r.method, r.path, err)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return &response{status: res.StatusCode, header: res.Header, body: data}, nil
	}
	ra := retryAfter(res.Header.Get("Retry-After"), time.Now())
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "application/problem+json" {
		p := &Problem{}
		if json.Unmarshal(data, p) == nil && p.Status != 0 {
			p.RetryAfter = ra
			return nil, p
		}
	}
	snippet := string(data)
	if len(snippet) > 512 {
		snippet = snippet[:512]
	}
	return nil, &StatusError{Status: res.StatusCode, Body: snippet, RetryAfter: ra}
}

// retryAfter reads a Retry-After value: delay seconds or an HTTP date;
// 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case s < 0:
			return 0
		case s > math.MaxInt64/int64(time.Second):
			// Longer than a Duration holds: never worth waiting.
			return math.MaxInt64
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// call sends r and decodes a JSON answer into out (nil: the body is
// ignored).
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if out == nil || len(resp.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", r.method, r.path, err)
	}
	return nil
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

// domainQuery is the ?domain= of the per-link routes ("" = the
// instance's own host).
func domainQuery(domain string) url.Values {
	if domain == "" {
		return nil
	}
	return url.Values{"domain": {domain}}
}
