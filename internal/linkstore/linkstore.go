// Package linkstore defines the durable store of short links that both the
// control plane (writes) and the edge (reads, behind its caches) use. The
// implementations live in its subpackages: pgstore for PostgreSQL and
// sqlitestore for the embedded default; backend opens one from a DSN.
package linkstore

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when no link has the requested code.
var ErrNotFound = errors.New("link not found")

// ErrCodeTaken is returned by Create when the code already belongs to a link.
// The database enforces it (the code is the primary key), so it holds for
// generated codes and custom aliases alike.
var ErrCodeTaken = errors.New("code already taken")

// ErrInvalidLink is wrapped by the errors of Link.Validate and
// Update.Validate, and so by the errors that Create, CreateMany and
// Update return for a link or change that no store accepts: callers tell
// bad input from a database failure with errors.Is. The error's text is
// the problem alone (such as "empty code"), not this sentinel's.
var ErrInvalidLink = errors.New("invalid link")

// Link is one short link as stored.
type Link struct {
	// ID is the link's Snowflake ID: internal, time-ordered.
	ID int64
	// Code is the short code or custom alias, case-sensitive.
	Code string
	// URL is the target of the redirect.
	URL string
	// Status is the redirect status (301, 302, 307 or 308); 0 means the
	// edge's configured default.
	Status int
	// CreatedAt is when the link was created (UTC, microsecond precision).
	CreatedAt time.Time
	// ExpiresAt is when the link stops redirecting; the zero value means never.
	ExpiresAt time.Time
	// Disabled links answer 410 like expired ones.
	Disabled bool
}

// Expired reports whether the link has expired at now.
func (l Link) Expired(now time.Time) bool {
	return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)
}

// Store is a durable link store.
type Store interface {
	// Create inserts l. It returns ErrCodeTaken when the code exists, and
	// an error wrapping ErrInvalidLink when l.Validate fails.
	Create(ctx context.Context, l Link) error
	// Get reads a link from the primary (read-your-writes), or ErrNotFound.
	Get(ctx context.Context, code string) (Link, error)
	// Lookup reads a link for the redirect path: from a read replica when
	// one is configured and healthy, else the primary. A code that the
	// replica does not know is confirmed on the primary before ErrNotFound
	// is returned, so replication lag never hides a new link.
	Lookup(ctx context.Context, code string) (Link, error)
	// Delete removes a link and returns it as it was (its ID, for the
	// deletion's link event), or returns ErrNotFound.
	Delete(ctx context.Context, code string) (Link, error)
	// CreateMany inserts links in one round trip (a multi-row insert or
	// COPY, one transaction) and returns one result per link, in order:
	// nil, ErrCodeTaken (the code exists, or appears earlier in the same
	// batch), an error wrapping ErrInvalidLink (Link.Validate fails), or
	// another error. A taken code or an invalid link never fails the
	// others.
	CreateMany(ctx context.Context, links []Link) []error
	// Update applies u to the link with the code and returns the link as
	// it is afterwards, or ErrNotFound; an error wrapping ErrInvalidLink
	// when u.Validate fails.
	Update(ctx context.Context, code string, u Update) (Link, error)
	// List returns up to q.Limit links matching q, newest first (by ID,
	// which is time-ordered), starting after q.Before.
	List(ctx context.Context, q ListQuery) ([]Link, error)
	// DeleteExpired deletes up to limit links whose ExpiresAt is at or
	// before now, in one statement, and returns them. Links that never
	// expire are never deleted. The leader's cleanup calls it in batches
	// until it returns fewer than limit links.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Link, error)
	// Ping checks that the primary answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close()
}

// Update is a change to a link's mutable fields; nil fields stay as they
// are.
type Update struct {
	URL    *string
	Status *int
	// ExpiresAt sets the expiry; a pointer to the zero time clears it.
	ExpiresAt *time.Time
	Disabled  *bool
}

// ListQuery selects links for List. Zero fields do not filter.
type ListQuery struct {
	// Limit is the most links returned (1..MaxListLimit; 0 means
	// DefaultListLimit).
	Limit int
	// Before is a cursor: only links with an ID below it (the last ID of
	// the previous page). 0 starts at the newest.
	Before int64
	// Prefix keeps codes that start with it (case-sensitive).
	Prefix string
	// Host keeps links whose target host is Host or one of its subdomains
	// (lower case, as stored).
	Host string
	// MinID and MaxID bound the IDs (inclusive; 0: unbounded). Snowflake
	// IDs are time-ordered, so a creation-time range maps onto them.
	MinID, MaxID int64
}

// Config says how to reach a store.
type Config struct {
	// DSN of the primary: postgres://… or postgresql://… for PostgreSQL;
	// sqlite://PATH (or sqlite:PATH) for SQLite.
	DSN string
	// ReadDSNs are PostgreSQL read replicas for Lookup (optional).
	ReadDSNs []string
	// ReplicaMaxLag takes a read replica out of Lookup's rotation while
	// its replication lag, checked every second, exceeds it (0: the
	// store's default, pgstore.DefaultReplicaMaxLag; negative: no bound).
	ReplicaMaxLag time.Duration
	// MaxConns bounds each pool (0: the driver's default).
	MaxConns int32
	// Migrate applies the embedded schema migrations on open. Edges that
	// only read leave it off; the control plane turns it on. SQLite always
	// migrates: it is local to the process.
	Migrate bool
}
