package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Report is an abuse report about one link.
type Report struct {
	ID        int64
	CreatedAt time.Time
	// Domain is the reported link's domain: "" for the instance's own
	// host, else a custom domain; a link is (Domain, Code).
	Domain string
	// Code is the reported link's code.
	Code string
	// URL is what the reporter gave: the short URL or the code.
	URL     string
	Reason  string
	Details string
	Contact string
	// ClientIP is the reporter's address (for abuse of the form itself).
	ClientIP string
	// ResolvedAt is zero while the report is open.
	ResolvedAt time.Time
	// ResolvedBy is the API key ID that resolved it.
	ResolvedBy string
	Resolution string
	Note       string
}

// Open reports whether the report awaits a resolution.
func (r Report) Open() bool { return r.ResolvedAt.IsZero() }

// Report states of ReportQuery.State.
const (
	StateOpen     = "open"
	StateResolved = "resolved"
)

// ReportQuery selects reports, newest first.
type ReportQuery struct {
	// State is StateOpen, StateResolved or "" (both).
	State string
	// Before lists the reports with a lower ID.
	Before int64
	// Limit is the most reports returned (required, > 0).
	Limit int
}

// CreateReport stores r (its ID and resolution are ignored; its text as
// Text makes it, uncut) and returns its ID.
func (s *Store) CreateReport(ctx context.Context, r Report) (int64, error) {
	stmt, args := s.bind(`INSERT INTO abuse_reports (created_at, domain, code, url, reason, details, contact, client_ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		[]any{r.CreatedAt.UTC(), Text(r.Domain, 0), Text(r.Code, 0), Text(r.URL, 0), Text(r.Reason, 0), Text(r.Details, 0), Text(r.Contact, 0), Text(r.ClientIP, 0)})
	var id int64
	if err := s.db.QueryRowContext(ctx, stmt, args...).Scan(&id); err != nil {
		return 0, fmt.Errorf("audit: store report: %w", err)
	}
	return id, nil
}

const reportColumns = "id, created_at, domain, code, url, reason, details, contact, client_ip, resolved_at, resolved_by, resolution, note"

func scanReport(row interface{ Scan(...any) error }) (Report, error) {
	var r Report
	err := row.Scan(&r.ID, timeScanner{&r.CreatedAt}, &r.Domain, &r.Code, &r.URL, &r.Reason, &r.Details, &r.Contact,
		&r.ClientIP, timeScanner{&r.ResolvedAt}, &r.ResolvedBy, &r.Resolution, &r.Note)
	return r, err
}

// Reports returns the reports q selects, newest first.
func (s *Store) Reports(ctx context.Context, q ReportQuery) ([]Report, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("audit: list reports needs a positive limit, not %d", q.Limit)
	}
	stmt := "SELECT " + reportColumns + " FROM abuse_reports WHERE id < $1"
	switch q.State {
	case "":
	case StateOpen:
		stmt += " AND resolved_at IS NULL"
	case StateResolved:
		stmt += " AND resolved_at IS NOT NULL"
	default:
		return nil, fmt.Errorf("audit: unknown report state %q", q.State)
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.query(ctx, stmt+" ORDER BY id DESC LIMIT $2", before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit: list reports: %w", err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: list reports: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list reports: %w", err)
	}
	return out, nil
}

// ResolveReport resolves the open report id and returns it resolved:
// ErrNotFound when there is none, ErrResolved when it was resolved before
// (the first resolution stands).
func (s *Store) ResolveReport(ctx context.Context, id int64, resolution, note, by string, at time.Time) (Report, error) {
	stmt, args := s.bind(`UPDATE abuse_reports SET resolved_at = $1, resolved_by = $2, resolution = $3, note = $4
		WHERE id = $5 AND resolved_at IS NULL RETURNING `+reportColumns,
		[]any{at.UTC(), Text(by, 0), Text(resolution, 0), Text(note, 0), id})
	r, err := scanReport(s.db.QueryRowContext(ctx, stmt, args...))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Report{}, fmt.Errorf("audit: resolve report %d: %w", id, err)
	}
	var n int
	stmt, args = s.bind("SELECT count(*) FROM abuse_reports WHERE id = $1", []any{id})
	if err := s.db.QueryRowContext(ctx, stmt, args...).Scan(&n); err != nil {
		return Report{}, fmt.Errorf("audit: resolve report %d: %w", id, err)
	}
	if n == 0 {
		return Report{}, fmt.Errorf("report %d: %w", id, ErrNotFound)
	}
	return Report{}, fmt.Errorf("report %d: %w", id, ErrResolved)
}

// OpenReports counts the open reports.
func (s *Store) OpenReports(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM abuse_reports WHERE resolved_at IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: count open reports: %w", err)
	}
	return n, nil
}
