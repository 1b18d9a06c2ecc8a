package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Anonymous is the KeyID of a write made without a valid API key.
const Anonymous = "anonymous"

// Entry is one write made through the API.
type Entry struct {
	// ID orders the entries (newer ones have higher IDs); set by the
	// store.
	ID int64
	// At is when the request was answered.
	At time.Time
	// KeyID is the ID of the API key the request authenticated with, or
	// Anonymous.
	KeyID string
	// Method is the HTTP method.
	Method string
	// Route is the route's pattern, as the API registered it: "DELETE
	// /api/v1/links/{code}".
	Route string
	// Target is what the write was about: a code, a key ID, a domain, a
	// node, a report ID; "" when the route names nothing.
	Target string
	// ClientIP is the client's address, from forwarding headers only when
	// the peer is a trusted proxy.
	ClientIP string
	// Status is the HTTP status the request was answered with.
	Status int
}

// Outcomes of the Query.Outcome filter.
const (
	// OutcomeSuccess is a status below 400.
	OutcomeSuccess = "success"
	// OutcomeClientError is a 4xx status.
	OutcomeClientError = "client_error"
	// OutcomeServerError is a 5xx status.
	OutcomeServerError = "server_error"
)

// Query selects audit entries; its zero fields do not filter.
type Query struct {
	KeyID  string
	Route  string
	Target string
	// Outcome is OutcomeSuccess, OutcomeClientError or OutcomeServerError.
	Outcome string
	// Status is one exact status.
	Status int
	// Since and Until bound At: [Since, Until).
	Since, Until time.Time
	// Before lists the entries with a lower ID (the page after the entry
	// with that ID).
	Before int64
	// Limit is the most entries returned (required, > 0).
	Limit int
}

// maxField bounds each text field of an entry, in bytes: a path argument
// of a refused request can be as long as the URL.
const maxField = 512

// Text returns s as PostgreSQL and SQLite both store it: valid UTF-8
// without NUL (PostgreSQL's text refuses both, and one such value would
// fail its whole batch), cut to at most max bytes on a rune boundary
// (max 0: no cut).
func Text(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
	if max <= 0 || len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// Insert writes entries in one statement. Their text fields are stored as
// Text makes them.
func (s *Store) Insert(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO audit_log (at, key_id, method, route, target, client_ip, status) VALUES ")
	args := make([]any, 0, 7*len(entries))
	for i, e := range entries {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
		args = append(args, e.At.UTC(), Text(e.KeyID, maxField), Text(e.Method, maxField), Text(e.Route, maxField),
			Text(e.Target, maxField), Text(e.ClientIP, maxField), e.Status)
	}
	if _, err := s.exec(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("audit: write %d entries: %w", len(entries), err)
	}
	return nil
}

// List returns the entries q selects, newest first.
func (s *Store) List(ctx context.Context, q Query) ([]Entry, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("audit: list needs a positive limit, not %d", q.Limit)
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.KeyID != "" {
		add("key_id = ?", q.KeyID)
	}
	if q.Route != "" {
		add("route = ?", q.Route)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	switch q.Outcome {
	case "":
	case OutcomeSuccess:
		where = append(where, "status < 400")
	case OutcomeClientError:
		where = append(where, "status >= 400 AND status < 500")
	case OutcomeServerError:
		where = append(where, "status >= 500")
	default:
		return nil, fmt.Errorf("audit: unknown outcome %q", q.Outcome)
	}
	if q.Status != 0 {
		add("status = ?", q.Status)
	}
	if !q.Since.IsZero() {
		add("at >= ?", q.Since.UTC())
	}
	if !q.Until.IsZero() {
		add("at < ?", q.Until.UTC())
	}
	if q.Before > 0 {
		add("id < ?", q.Before)
	}
	stmt := "SELECT id, at, key_id, method, route, target, client_ip, status FROM audit_log"
	if len(where) > 0 {
		stmt += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	stmt += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, timeScanner{&e.At}, &e.KeyID, &e.Method, &e.Route, &e.Target, &e.ClientIP, &e.Status); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
