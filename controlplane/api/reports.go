package api

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/shortcode"
)

// ReportStore keeps abuse reports (*audit.Store).
type ReportStore interface {
	CreateReport(ctx context.Context, r audit.Report) (int64, error)
	Reports(ctx context.Context, q audit.ReportQuery) ([]audit.Report, error)
	ResolveReport(ctx context.Context, id int64, resolution, note, by string, at time.Time) (audit.Report, error)
}

// Bounds of a report.
const (
	// maxReportBody bounds the body of POST /api/v1/reports.
	maxReportBody = 8 << 10
	// maxReportDetails, maxReportContact and maxResolutionNote bound
	// the free-text fields, in bytes.
	maxReportDetails  = 4000
	maxReportContact  = 254
	maxResolutionNote = 2000
)

// ReportReasons are the reasons a report may give.
var ReportReasons = []string{"phishing", "malware", "spam", "other"}

// ReportResolutions are the resolutions an admin may give.
var ReportResolutions = []string{"taken_down", "no_action", "duplicate", "invalid"}

// ReportRequest is the body of POST /api/v1/reports.
type ReportRequest struct {
	// URL is the short URL (of this shortener: its own host or a verified
	// custom domain) or the code (of the own host) reported.
	URL     string `json:"url"`
	Reason  string `json:"reason"`
	Details string `json:"details,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// ResolveRequest is the body of POST /api/v1/admin/reports/{id}/resolve.
type ResolveRequest struct {
	Resolution string `json:"resolution"`
	Note       string `json:"note,omitempty"`
}

// ReportInfo is a report as the admin routes show it.
type ReportInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// Domain is the reported link's custom domain; absent on the
	// instance's own host.
	Domain     string     `json:"domain,omitempty"`
	Code       string     `json:"code"`
	URL        string     `json:"url"`
	Reason     string     `json:"reason"`
	Details    string     `json:"details,omitempty"`
	Contact    string     `json:"contact,omitempty"`
	ClientIP   string     `json:"client_ip,omitempty"`
	State      string     `json:"state"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	Note       string     `json:"note,omitempty"`
}

// ReportPage is a page of GET /api/v1/admin/reports, newest first.
type ReportPage struct {
	Reports    []ReportInfo `json:"reports"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// reportScript is the path of the report page's script.
const reportScript = "/api/v1/reports/form.js"

// reportCSP is the report page's Content-Security-Policy: its one script
// from this origin, fetches to this origin, nothing inline, no framing.
const reportCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed reportpage/report.html reportpage/report.js
var reportFS embed.FS

var (
	reportPage = template.Must(template.ParseFS(reportFS, "reportpage/report.html"))
	reportJS   = func() []byte { b, _ := reportFS.ReadFile("reportpage/report.js"); return b }()
)

func (h *Handler) reportRoutes() {
	h.handle("POST /api/v1/reports", public, h.createReport)
	h.handle("GET /report", public, h.reportForm)
	h.handle("GET "+reportScript, public, h.reportFormScript)
	h.handle("GET /api/v1/admin/reports", admin, h.listReports)
	h.handle("POST /api/v1/admin/reports/{id}/resolve", admin, h.resolveReport)
}

func (h *Handler) haveReports(w http.ResponseWriter) bool {
	if h.deps.Reports == nil {
		problem.Write(w, http.StatusServiceUnavailable, "this API takes no reports: it has no report store behind it")
		return false
	}
	return true
}

func (h *Handler) createReport(w http.ResponseWriter, r *http.Request) {
	if !h.haveReports(w) {
		return
	}
	var req ReportRequest
	if !decodeJSONLimit(w, r, &req, maxReportBody) {
		return
	}
	domain, code, detail := h.reportedLink(strings.TrimSpace(req.URL))
	switch {
	case detail != "":
		problem.WriteField(w, http.StatusBadRequest, "url", detail)
		return
	case !slices.Contains(ReportReasons, req.Reason):
		problem.WriteField(w, http.StatusBadRequest, "reason", "reason must be one of "+strings.Join(ReportReasons, ", "))
		return
	case len(req.Details) > maxReportDetails:
		problem.WriteField(w, http.StatusBadRequest, "details", fmt.Sprintf("details must be at most %d bytes", maxReportDetails))
		return
	case len(req.Contact) > maxReportContact:
		problem.WriteField(w, http.StatusBadRequest, "contact", fmt.Sprintf("contact must be at most %d bytes", maxReportContact))
		return
	}
	// Spent before the lookup, so that the limit also bounds probing
	// which codes exist.
	if _, ok := h.spendClient(w, r, h.deps.ReportLimiter, reportBudget); !ok {
		return
	}
	if _, err := h.deps.Store.Get(r.Context(), domain, code); err != nil {
		if errors.Is(err, linkstore.ErrNotFound) {
			problem.WriteField(w, http.StatusNotFound, "url", fmt.Sprintf("no link %q on this shortener", shownLink(domain, code)))
			return
		}
		h.storeFailed(w, "look up the reported link", err)
		return
	}
	id, err := h.deps.Reports.CreateReport(r.Context(), audit.Report{
		CreatedAt: h.cfg.Now().UTC(), Domain: domain, Code: code, URL: req.URL, Reason: req.Reason,
		Details: req.Details, Contact: req.Contact, ClientIP: h.clientIP(r),
	})
	if err != nil {
		h.storeFailed(w, "store the report", err)
		return
	}
	setAuditTarget(r, code)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": strconv.FormatInt(id, 10), "state": audit.StateOpen})
}

// reportedLink is the link a report's url names, (domain, code): a short
// URL of this shortener, on one of its own host names (domain "") or on a
// verified custom domain, or a bare code (the own host's). A refusal
// comes back as detail; an unverified or unknown domain is refused as any
// other site is, so that the answer does not tell which are registered.
func (h *Handler) reportedLink(v string) (domain, code, detail string) {
	if v == "" {
		return "", "", "url is required: the short link (or its code) you report"
	}
	if len(v) > 2048 {
		return "", "", "url is longer than any short link of this shortener"
	}
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		notOurs := "url is not a short link of this shortener; report other sites to their host"
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return "", "", notOurs
		}
		// An own host name may be one NormalizeDomain refuses (localhost,
		// an IP address): it is matched as written first.
		if !h.ownHost(strings.TrimSuffix(u.Hostname(), ".")) {
			if domain, err = h.parseLinkDomain(u.Hostname()); err != nil {
				return "", "", notOurs
			}
			if domain != "" && (h.deps.Domains == nil || !h.deps.Domains.DomainVerified(domain)) {
				return "", "", notOurs
			}
		}
		v = strings.TrimPrefix(u.Path, "/")
	}
	if !shortcode.WellFormed(v) {
		return "", "", fmt.Sprintf("%q is not a short link or code of this shortener", v)
	}
	return domain, v, ""
}

// nextCode is the issuer's next code that is no reserved word: a 6-letter
// generated code may read "report" (in some case), whose route would
// shadow the link.
func (h *Handler) nextCode() (string, error) {
	for {
		code, err := h.deps.Issuer.NextCode()
		if err != nil || !shortcode.IsReserved(code) {
			return code, err
		}
		h.log.Info("skipped a generated code that is a reserved word", "code", code)
	}
}

var reportListParams = []string{"state", "cursor", "limit"}

func (h *Handler) listReports(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, reportListParams)
	if !ok {
		return
	}
	q := audit.ReportQuery{State: audit.StateOpen}
	var bad *paramError
	if q.Limit, q.Before, bad = parsePage(vals); bad != nil {
		problem.WriteField(w, http.StatusBadRequest, bad.param, bad.msg)
		return
	}
	switch s := vals.Get("state"); s {
	case "", audit.StateOpen:
	case audit.StateResolved:
		q.State = s
	case "all":
		q.State = ""
	default:
		problem.WriteField(w, http.StatusBadRequest, "state", "state must be open (the default), resolved or all")
		return
	}
	if !h.haveReports(w) {
		return
	}
	rs, err := h.deps.Reports.Reports(r.Context(), q)
	if err != nil {
		h.storeFailed(w, "list reports", err)
		return
	}
	page := ReportPage{Reports: make([]ReportInfo, 0, len(rs))}
	for _, rep := range rs {
		page.Reports = append(page.Reports, reportInfo(rep))
	}
	page.NextCursor = nextCursor(rs, q.Limit, func(r audit.Report) int64 { return r.ID })
	writeJSON(w, http.StatusOK, page)
}

func reportInfo(r audit.Report) ReportInfo {
	info := ReportInfo{ID: strconv.FormatInt(r.ID, 10), CreatedAt: r.CreatedAt, Domain: r.Domain, Code: r.Code, URL: r.URL, Reason: r.Reason,
		Details: r.Details, Contact: r.Contact, ClientIP: r.ClientIP, State: audit.StateOpen}
	if !r.Open() {
		at := r.ResolvedAt
		info.State, info.ResolvedAt, info.ResolvedBy, info.Resolution, info.Note = audit.StateResolved, &at, r.ResolvedBy, r.Resolution, r.Note
	}
	return info
}

func (h *Handler) resolveReport(w http.ResponseWriter, r *http.Request) {
	if !h.haveReports(w) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		problem.WriteField(w, http.StatusBadRequest, "id", fmt.Sprintf("%q is not a report ID", r.PathValue("id")))
		return
	}
	var req ResolveRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if !slices.Contains(ReportResolutions, req.Resolution) {
		problem.WriteField(w, http.StatusBadRequest, "resolution", "resolution must be one of "+strings.Join(ReportResolutions, ", "))
		return
	}
	if len(req.Note) > maxResolutionNote {
		problem.WriteField(w, http.StatusBadRequest, "note", fmt.Sprintf("note must be at most %d bytes", maxResolutionNote))
		return
	}
	rep, err := h.deps.Reports.ResolveReport(r.Context(), id, req.Resolution, req.Note, h.auditKeyID(r), h.cfg.Now().UTC())
	switch {
	case errors.Is(err, audit.ErrNotFound):
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("no report %d", id))
	case errors.Is(err, audit.ErrResolved):
		problem.Write(w, http.StatusConflict, fmt.Sprintf("report %d is resolved already", id))
	case err != nil:
		h.storeFailed(w, "resolve the report", err)
	default:
		writeJSON(w, http.StatusOK, reportInfo(rep))
	}
}

// pageHeaders are the headers of the report page and its script.
func pageHeaders(w http.ResponseWriter, contentType string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Security-Policy", reportCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
}

// reportForm serves the report page; ?url= fills the form's link.
func (h *Handler) reportForm(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, []string{"url"})
	if !ok {
		return
	}
	prefill := vals.Get("url")
	if len(prefill) > 2048 {
		prefill = ""
	}
	pageHeaders(w, "text/html; charset=utf-8")
	// html/template escapes the prefilled value for its attribute.
	if err := reportPage.Execute(w, map[string]string{"URL": prefill, "Script": reportScript, "Endpoint": "/api/v1/reports"}); err != nil {
		h.log.Warn("could not write the report page", "err", err)
	}
}

func (h *Handler) reportFormScript(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w, "text/javascript; charset=utf-8")
	_, _ = w.Write(reportJS)
}
