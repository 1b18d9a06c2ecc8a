// Package linkstore defines the durable store of short links that both the
// control plane (writes) and the edge (reads, behind its caches) use. The
// implementations live in its subpackages: pgstore for PostgreSQL and
// sqlitestore for the embedded default; backend opens one from a DSN.
package linkstore

import (
	"context"
	"errors"
	"time"

	"github.com/shortify/shortify/internal/smartlink"
)

// ErrNotFound is returned when no link has the requested domain and code.
var ErrNotFound = errors.New("link not found")

// ErrCodeTaken is returned by Create when the code already belongs to a link
// on the same domain. The database enforces it ((domain, code) is the
// primary key), so it holds for generated codes and custom aliases alike.
var ErrCodeTaken = errors.New("code already taken")

// ErrLinkLive is returned by Release for a code whose link is live (not
// retired): only a retired code can be released.
var ErrLinkLive = errors.New("link is live")

// ErrTakenDown is returned by Update for a link that an administrator took
// down: its owner may neither retarget nor re-enable it until the takedown
// is lifted.
var ErrTakenDown = errors.New("link is taken down")

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
	// Code is the short code or custom alias, case-sensitive. A link is
	// identified by (Domain, Code): the same alias may name two links on
	// two domains (since migration 0007, the contract step of 0006's
	// rolling upgrade, docs/decisions/0004-workspace-links.md). Generated
	// codes are unique across the instance: they come from its sequence.
	Code string
	// Domain is the custom domain the link answers on: a lower-case
	// punycode host name without port or trailing dot (ValidateDomain);
	// "" is the instance's own host.
	Domain string
	// WorkspaceID is the workspace that holds the link; 0 in a Create or
	// CreateMany means workspace.DefaultID (the stores store and return
	// the default's ID).
	WorkspaceID int64
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
	// RetiredAt is when the link was retired (expired and cleaned up, or
	// deleted); the zero value means live. A retired link keeps its row,
	// so that its code is never issued again (see Store).
	RetiredAt time.Time
	// RetiredReason says why the link was retired; "" while live.
	RetiredReason RetiredReason
	// TakedownAt is when an administrator took the link down (it answers
	// 451 at the edge); the zero value means not taken down.
	TakedownAt time.Time
	// TakedownReason is the administrator's reason, shown on the edge's
	// 451 page; "" when not taken down.
	TakedownReason string
	// Smart holds the link's click-time options (password, click limit,
	// rules, split, preview…); the zero value is a plain link, stored as
	// NULL (package smartlink).
	Smart smartlink.Options
	// Title, Tags and Notes organize the owner's links (issue 17); the
	// edge ignores them. Title is at most MaxTitle characters, as the
	// owner gave it; Tags at most MaxTags tags of 1 to MaxTagLen
	// characters, kept as CleanTags returns them (trimmed, deduplicated
	// ignoring case, as spelled first); Notes at most MaxNotes
	// characters. "" and nil are stored as NULL.
	Title string
	Tags  []string
	Notes string
	// ExternalID is the creator's own identifier of the link (issue 17,
	// like Dub's externalId): "" (NULL) for none, else 1 to
	// MaxExternalID printable characters (ValidateExternalID), unique
	// among the live links of the workspace (ErrExternalIDTaken). A
	// retired link frees it. The edge ignores it.
	ExternalID string
	// Clicks and ClicksHumans are the link's all-time clicks (humans and
	// bots; humans alone) within the stats retention, as the leader's
	// click-totals job last copied them from the stats database
	// (SetClicks): refreshed every few seconds, not live. Create and
	// CreateMany ignore them (a new link has none); Lookup may leave them
	// 0 (the edge needs neither).
	Clicks, ClicksHumans int64
}

// RetiredReason says why a link was retired.
type RetiredReason string

// The reasons of a retirement.
const (
	// RetiredExpired: the leader's cleanup retired the link after it
	// expired. The edge keeps answering 410 for it.
	RetiredExpired RetiredReason = "expired"
	// RetiredDeleted: its owner deleted it through the API. The edge
	// answers 404 for it (451 while it is taken down).
	RetiredDeleted RetiredReason = "deleted"
)

// Retired reports whether the link is retired (expired and cleaned up, or
// deleted).
func (l Link) Retired() bool { return !l.RetiredAt.IsZero() }

// TakenDown reports whether an administrator took the link down.
func (l Link) TakenDown() bool { return !l.TakedownAt.IsZero() }

// OwnerSees reports whether the owner's reads (Get, List, Update, Delete)
// see the link: only while it is live.
func (l Link) OwnerSees() bool { return !l.Retired() }

// EdgeSees reports whether the redirect path's reads (Lookup,
// LookupPrimary) see the link: live, retired after it expired (it keeps
// answering 410), or taken down (it keeps answering 451, deleted or not).
// A deleted link is unknown to the edge (404).
func (l Link) EdgeSees() bool {
	return !l.Retired() || l.RetiredReason == RetiredExpired || l.TakenDown()
}

// Expired reports whether the link has expired at now.
func (l Link) Expired(now time.Time) bool {
	return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)
}

// Store is a durable link store.
//
// A link is identified by (domain, code): every read and write by code
// takes the domain too ("" for the instance's own host).
//
// A code, once issued, is never issued again: expiry (RetireExpired) and
// deletion (Delete) retire a link, keeping its row, so that the primary
// key refuses its code to every later Create, race-free. Only Release, an
// administrator's explicit act, removes a retired row and frees its code.
// The owner's view (Get, List, Update, Delete) does not see retired
// links; the redirect path's (Lookup, LookupPrimary) sees retired-expired
// links, which keep answering 410, and taken-down ones, which answer 451.
type Store interface {
	// Create inserts l. It returns ErrCodeTaken when its (domain, code)
	// exists or existed (a retired link keeps it; its code on another
	// domain is free), an *ExternalIDTakenError when another live link
	// of its workspace has its ExternalID, and an error wrapping
	// ErrInvalidLink when l.Validate fails.
	Create(ctx context.Context, l Link) error
	// Get reads a live link from the primary (read-your-writes), or
	// ErrNotFound (for a retired link too).
	Get(ctx context.Context, domain, code string) (Link, error)
	// Lookup reads a link for the redirect path: from a read replica when
	// one is configured and healthy, else the primary. A code that the
	// replica does not know is confirmed on the primary before ErrNotFound
	// is returned, so replication lag never hides a new link. It returns
	// live links and retired-expired ones (with RetiredAt set; they
	// answer 410); a deleted link is ErrNotFound unless it is taken down.
	// It may leave Title, Tags and Notes empty (pgstore does: the edge
	// needs none of them).
	Lookup(ctx context.Context, domain, code string) (Link, error)
	// LookupPrimary reads a link as Lookup does, from the primary: the
	// redirect path's read right after a link event, which a lagging
	// replica could answer with the old state.
	LookupPrimary(ctx context.Context, domain, code string) (Link, error)
	// Delete retires a live link (reason RetiredDeleted), keeping its row
	// so that its code is never reissued, and disables it (so that a
	// reader that predates retirement never redirects it); it returns the
	// link as it is afterwards (its ID, for the deletion's link event), or returns
	// ErrNotFound (for a retired link too).
	Delete(ctx context.Context, domain, code string) (Link, error)
	// Release removes a retired link's row for good, so that its code can
	// be issued again: an administrator's act. It returns ErrLinkLive when
	// the link is live, ErrNotFound when no row has the code.
	Release(ctx context.Context, domain, code string) error
	// TakeDown marks a live link taken down at at for reason (which
	// ValidateTakedownReason accepts) and returns it as it is afterwards,
	// or ErrNotFound. Taking down a taken-down link replaces the reason.
	TakeDown(ctx context.Context, domain, code, reason string, at time.Time) (Link, error)
	// LiftTakedown clears a live link's takedown and returns the link as
	// it is afterwards, or ErrNotFound. A link not taken down stays as it
	// is.
	LiftTakedown(ctx context.Context, domain, code string) (Link, error)
	// CreateMany inserts links in one round trip (a multi-row insert or
	// COPY, one transaction) and returns one result per link, in order:
	// nil, ErrCodeTaken (the domain and code exist, or appear earlier in
	// the same batch), an *ExternalIDTakenError (a live link of the
	// workspace, or an earlier valid link of the batch, has the external
	// ID), an error wrapping ErrInvalidLink (Link.Validate fails), or
	// another error. A taken code or an invalid link never fails the
	// others.
	CreateMany(ctx context.Context, links []Link) []error
	// ByExternalIDs reads, from the primary and in one indexed query, the
	// live links of the workspace that have one of ids, keyed by external
	// ID (absent: no live link has it). It lets a bulk create answer the
	// links an earlier run imported without trying to insert them.
	ByExternalIDs(ctx context.Context, workspaceID int64, ids []string) (map[string]Link, error)
	// Update applies u to the live link with the code and returns the
	// link as it is afterwards, or ErrNotFound (for a retired link too);
	// ErrTakenDown when the link is taken down; an *ExternalIDTakenError
	// when u sets an external ID that another live link of the workspace
	// has; an error wrapping ErrInvalidLink when u.Validate fails.
	Update(ctx context.Context, domain, code string, u Update) (Link, error)
	// List returns up to q.Limit live links matching q, newest first (by
	// ID, which is time-ordered), starting after q.Before. Retired links
	// are left out.
	List(ctx context.Context, q ListQuery) ([]Link, error)
	// RetireExpired retires (reason RetiredExpired, at now) up to limit
	// live links whose ExpiresAt is at or before now, in one statement,
	// and returns them. Links that never expire are never retired. The
	// leader's cleanup calls it in batches until it returns fewer than
	// limit links.
	RetireExpired(ctx context.Context, now time.Time, limit int) ([]Link, error)
	// CountLive returns the number of live (not retired) links of the
	// workspace, read from the primary: what the per-workspace "links
	// held" limit counts. Its cost grows with that number (see
	// docs/decisions/0004-workspace-links.md).
	CountLive(ctx context.Context, workspaceID int64) (int64, error)
	// CountLiveUpTo returns the smaller of limit and the number of live
	// links of the workspace, from the primary (0 for a limit <= 0): the
	// create path's check of the "links held" limit, whose cost the limit
	// bounds, not the workspace's size.
	CountLiveUpTo(ctx context.Context, workspaceID, limit int64) (int64, error)
	// ClaimClick counts one click of the link with the ID if fewer than
	// max were counted, and reports whether it did, in one statement on
	// the primary: exact however many edges claim at once (the click
	// counter of package clicklimit without Redis). A max <= 0 claims
	// nothing (false). Counts are kept by ID, not by code, and outlive
	// the link's row (see docs/decisions/0005-exact-click-limits.md).
	ClaimClick(ctx context.Context, linkID, max int64) (bool, error)
	// CountedClicks returns the clicks ClaimClick counted for the link
	// (0 for a link never claimed), read from the primary.
	CountedClicks(ctx context.Context, linkID int64) (int64, error)
	// Tags returns the tags of the workspace's live links with the
	// number of links that have each, most used first (then by name,
	// ignoring case). Tags that differ in case alone count as one,
	// under one of their spellings.
	Tags(ctx context.Context, workspaceID int64) ([]TagCount, error)
	// RenameTag renames the tag (compared ignoring case) to name on every
	// live link of the workspace that has it, in one transaction, and
	// returns how many links changed. A link that has name already keeps
	// one of the two (ReplaceTag). Name must pass ValidateTag (an error
	// wrapping ErrInvalidLink otherwise).
	RenameTag(ctx context.Context, workspaceID int64, tag, name string) (int64, error)
	// DeleteTag removes the tag (compared ignoring case) from every live
	// link of the workspace, in one transaction, and returns how many
	// links changed.
	DeleteTag(ctx context.Context, workspaceID int64, tag string) (int64, error)
	// SetClicks writes the click totals of the links they name (by code
	// and ID; a retired link's too, a missing one's nowhere) in one
	// statement or transaction, and returns how many links' totals
	// changed. Totals must pass CheckClickTotals.
	SetClicks(ctx context.Context, totals []ClickTotal) (int64, error)
	// SetTitleIfEmpty sets the title of the live link with the domain,
	// code and ID (the ID, so that a fetch for a link deleted and whose
	// code was released never titles its successor) only if the link has
	// no title, in one statement on the primary, and reports whether it
	// did: the background title fetch's write, which a title the owner
	// set meanwhile wins over. The title must pass CheckOrganize and not
	// be empty (an error wrapping ErrInvalidLink otherwise).
	SetTitleIfEmpty(ctx context.Context, domain, code string, id int64, title string) (bool, error)
	// Ping checks that the primary answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close()
}

// TagCount is a tag and the number of live links that have it.
type TagCount struct {
	Tag   string
	Links int64
}

// Key identifies a link: its domain and code.
type Key struct{ Domain, Code string }

// Key returns the link's key.
func (l Link) Key() Key { return Key{Domain: l.Domain, Code: l.Code} }

// Update is a change to a link's mutable fields; nil fields stay as they
// are.
type Update struct {
	URL    *string
	Status *int
	// ExpiresAt sets the expiry; a pointer to the zero time clears it.
	ExpiresAt *time.Time
	Disabled  *bool
	// Smart replaces the link's options as a whole (the API merges a
	// PATCH into the link's current options first); a pointer to the zero
	// value makes it a plain link.
	Smart *smartlink.Options
	// Title, Tags and Notes replace the link's (a pointer to "" or nil
	// clears one).
	Title *string
	Tags  *[]string
	Notes *string
	// ExternalID sets the link's external ID (a pointer to "" clears it).
	ExternalID *string
}

// ListQuery selects links for List. Zero fields do not filter.
type ListQuery struct {
	// Limit is the most links returned (1..MaxListLimit; 0 means
	// DefaultListLimit).
	Limit int
	// Before is a cursor: only links with an ID below it (the last ID of
	// the previous page). 0 starts at the newest. Sorted by clicks, the
	// cursor is the last link's (BeforeClicks, Before): only links after
	// it in that order (fewer clicks, or as many and a lower ID).
	Before int64
	// BeforeClicks is the clicks of the cursor's link when Sort is
	// SortClicks and Before is set.
	BeforeClicks int64
	// Prefix keeps codes that start with it (case-sensitive).
	Prefix string
	// Host keeps links whose target host is Host or one of its subdomains
	// (lower case, as stored).
	Host string
	// MinID and MaxID bound the IDs (inclusive; 0: unbounded). Snowflake
	// IDs are time-ordered, so a creation-time range maps onto them.
	MinID, MaxID int64
	// WorkspaceID keeps the links of one workspace (0: every workspace).
	WorkspaceID int64
	// Domain keeps the links on one custom domain ("": every domain,
	// the instance's own host included; there is no filter for the own
	// host alone yet).
	Domain string
	// Tags keeps links that have every one of the tags, compared
	// ignoring ASCII case (FoldASCII).
	Tags []string
	// Query keeps links whose code, target URL, title or one of whose
	// tags contains it, ignoring ASCII case (FoldASCII): a substring search, on
	// PostgreSQL through a trigram index (migration 0009); MinQuery to
	// MaxQuery characters.
	Query string
	// Sort is the order (ListSorts): "" or SortCreated (newest first),
	// or SortClicks (most clicks first, then newest first).
	Sort string
	// ExternalID keeps the link with this external ID (exact; "": no
	// filter).
	ExternalID string
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
