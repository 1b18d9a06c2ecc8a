package api

import "net/http"

// CreateObserver counts link creates for the node's metrics
// (shortify_cp_link_creates_total); the control plane's is long-lived, so
// the counts survive config reloads, which rebuild the Handler.
type CreateObserver interface {
	// ObserveCreates counts n links of a kind (CreateSingle,
	// CreateBulk) that ended with an outcome (OutcomeCreated, ...).
	ObserveCreates(kind, outcome string, n int)
}

// Kinds of create (the kind label).
const (
	// CreateSingle is POST /api/v1/links.
	CreateSingle = "single"
	// CreateBulk is a link of POST /api/v1/links/bulk.
	CreateBulk = "bulk"
)

// Outcomes of a create (the outcome label). A request refused before the
// create handler (no or a wrong API key, the anonymous limit) is not
// counted.
const (
	// OutcomeCreated: the link was stored (201).
	OutcomeCreated = "created"
	// OutcomeConflict: its alias was taken (409).
	OutcomeConflict = "conflict"
	// OutcomeLimited: a limit refused it: its workspace's links held
	// (403) or creates per minute (429), or the anonymous limit (429).
	OutcomeLimited = "limited"
	// OutcomeInvalid: the request or the link was refused (another 4xx).
	OutcomeInvalid = "invalid"
	// OutcomeError: the node could not create it (5xx: no ID or code,
	// the store failed).
	OutcomeError = "error"
)

// Outcomes lists every outcome, for collectors that start them at zero.
var Outcomes = []string{OutcomeCreated, OutcomeConflict, OutcomeLimited, OutcomeInvalid, OutcomeError}

// createOutcome is the outcome of a create answered with status.
func createOutcome(status int) string {
	switch {
	case status == http.StatusCreated:
		return OutcomeCreated
	case status == http.StatusConflict:
		return OutcomeConflict
	case status == http.StatusForbidden, status == http.StatusTooManyRequests:
		// The role check comes before the handler: a 403 here is the
		// links-held limit.
		return OutcomeLimited
	case status >= 400 && status < 500:
		return OutcomeInvalid
	case status >= 500:
		return OutcomeError
	}
	return OutcomeCreated // 200 and the rest: a bulk response, counted per link
}

// observeCreates counts n creates, when there is an observer.
func (h *Handler) observeCreates(kind string, status, n int) {
	if h.deps.Creates != nil && n > 0 {
		h.deps.Creates.ObserveCreates(kind, createOutcome(status), n)
	}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
