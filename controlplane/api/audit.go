package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/problem"
)

// AuditRecorder takes an audit entry for every write made through the API
// (*audit.Recorder): it must not block.
type AuditRecorder interface {
	Record(e audit.Entry)
}

// AuditLog reads the audit log (*audit.Store).
type AuditLog interface {
	List(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// AuditEntry is an audit entry as GET /api/v1/admin/audit shows it.
type AuditEntry struct {
	// ID is the entry's ID, as a string (see Link.ID).
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	KeyID string    `json:"key_id"`
	// Action is the route's pattern: "DELETE /api/v1/links/{code}".
	Action   string `json:"action"`
	Target   string `json:"target,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	Status   int    `json:"status"`
}

// AuditPage is a page of GET /api/v1/admin/audit, newest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// NextCursor fetches the next page (as ?cursor=); absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// auditTargetKey carries a *string into a write's handler, through which
// it names its target when no path argument or Location header does (a
// new API key's ID).
type auditTargetKey struct{}

// setAuditTarget names the target of the write r is, for its audit entry.
func setAuditTarget(r *http.Request, target string) {
	if p, ok := r.Context().Value(auditTargetKey{}).(*string); ok {
		*p = target
	}
}

// serveAudited serves a write to the route pattern and records it: one
// wrapper for every write route, those added later included. Refused
// writes (401, 403, 400, 429, ...) are recorded too.
func (h *Handler) serveAudited(w http.ResponseWriter, r *http.Request, pattern string) {
	// Who, before the write: a key that revokes itself was valid when
	// it did.
	keyID := h.auditKeyID(r)
	var target string
	r = r.WithContext(context.WithValue(r.Context(), auditTargetKey{}, &target))
	sw := &statusWriter{ResponseWriter: w}
	h.mux.ServeHTTP(sw, r)
	if target == "" {
		target = patternTarget(r, pattern)
	}
	if target == "" {
		if loc := sw.Header().Get("Location"); loc != "" && sw.status < 300 {
			target = path.Base(loc)
		}
	}
	h.deps.Audit.Record(audit.Entry{
		At:       h.cfg.Now().UTC(),
		KeyID:    keyID,
		Method:   r.Method,
		Route:    pattern,
		Target:   target,
		ClientIP: h.clientIP(r),
		Status:   cmpStatus(sw.status),
	})
}

// cmpStatus is the status a handler answered with; none written is 200.
func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// patternTarget is the first path argument of pattern that r has.
func patternTarget(r *http.Request, pattern string) string {
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			return ""
		}
		name := strings.TrimSuffix(rest[i+1:j], "...")
		if v := r.PathValue(name); v != "" {
			return v
		}
		rest = rest[j+1:]
	}
}

// auditKeyID is the ID of the valid API key r carries, or audit.Anonymous.
func (h *Handler) auditKeyID(r *http.Request) string {
	key, err := apiauth.RequestKey(r)
	if err != nil || key == "" || h.deps.Keys == nil {
		return audit.Anonymous
	}
	if rec, ok := apiauth.Authenticate(h.deps.Keys, key); ok {
		return rec.ID
	}
	return audit.Anonymous
}

// clientIP is r's client address as the trusted-proxy settings see it.
func (h *Handler) clientIP(r *http.Request) string {
	if h.deps.ClientIP != nil {
		return h.deps.ClientIP(r)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// writeRoutes are the patterns of the write routes, which the audit log
// records: the values of its action filter.
func (h *Handler) writeRoutes() []string {
	var out []string
	for _, rt := range h.routeList {
		method, _, _ := strings.Cut(rt.pattern, " ")
		if isWrite(method) && rt.access != member {
			out = append(out, rt.pattern)
		}
	}
	return out
}

var auditParams = []string{"key", "action", "target", "outcome", "status", "since", "until", "cursor", "limit"}

func (h *Handler) auditRoutes() {
	h.handle("GET /api/v1/admin/audit", admin, h.listAudit)
}

func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, auditParams)
	if !ok {
		return
	}
	q, bad := h.parseAuditQuery(vals)
	if bad != nil {
		problem.WriteField(w, http.StatusBadRequest, bad.param, bad.msg)
		return
	}
	if !have(w, h.deps.AuditLog != nil, "audit log") {
		return
	}
	entries, err := h.deps.AuditLog.List(r.Context(), q)
	if err != nil {
		h.storeFailed(w, "read the audit log", err)
		return
	}
	page := AuditPage{Entries: make([]AuditEntry, 0, len(entries))}
	for _, e := range entries {
		page.Entries = append(page.Entries, AuditEntry{ID: strconv.FormatInt(e.ID, 10), At: e.At, KeyID: e.KeyID,
			Action: e.Route, Target: e.Target, ClientIP: e.ClientIP, Status: e.Status})
	}
	page.NextCursor = nextCursor(entries, q.Limit, func(e audit.Entry) int64 { return e.ID })
	writeJSON(w, http.StatusOK, page)
}

func (h *Handler) parseAuditQuery(vals url.Values) (audit.Query, *paramError) {
	get := vals.Get
	q := audit.Query{KeyID: get("key"), Target: get("target")}
	var bad *paramError
	if q.Limit, q.Before, bad = parsePage(vals); bad != nil {
		return q, bad
	}
	if v := get("action"); v != "" {
		routes := h.writeRoutes()
		if !slices.Contains(routes, v) {
			return q, &paramError{"action", fmt.Sprintf("action %q is not a write route of this API; one of: %s", v, strings.Join(routes, ", "))}
		}
		q.Route = v
	}
	switch v := get("outcome"); v {
	case "", audit.OutcomeSuccess, audit.OutcomeClientError, audit.OutcomeServerError:
		q.Outcome = v
	default:
		return q, &paramError{"outcome", fmt.Sprintf("outcome must be %s, %s or %s", audit.OutcomeSuccess, audit.OutcomeClientError, audit.OutcomeServerError)}
	}
	if v := get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return q, &paramError{"status", "status must be an HTTP status from 100 to 599"}
		}
		q.Status = n
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, &paramError{p.name, p.name + " must be an RFC 3339 time such as 2026-11-01T00:00:00Z"}
			}
			*p.dst = t
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, &paramError{"since", "since must be before until"}
	}
	for _, p := range []struct{ name, v string }{{"key", q.KeyID}, {"target", q.Target}} {
		// The log holds text as audit.Text makes it: anything else names
		// nothing, and PostgreSQL would refuse it as a parameter.
		if len(p.v) > 512 || audit.Text(p.v, 0) != p.v {
			return q, &paramError{p.name, p.name + " must be valid UTF-8 of at most 512 bytes, without NUL"}
		}
	}
	return q, nil
}
