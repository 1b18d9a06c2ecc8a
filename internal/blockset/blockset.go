// Package blockset keeps the shared block set (the threat feeds and the
// admin domain blocklist, merged by the control plane's leader) and the
// links flagged for review in the link database, PostgreSQL or SQLite,
// beside the link store's tables.
//
// The leader writes the whole set with Replace, which bumps a generation
// number when the entries changed. Edges and control-plane nodes never
// talk to the leader for it: a Watcher polls Generation and reloads the
// set into memory (a threatlist.Set) when the number moved, so the
// per-click check is a local map lookup.
package blockset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/internal/threatlist"
)

// migrationsTable records the applied versions of this package's
// migrations (which are numbered in Shortify's one sequence: 0005, 0009).
const migrationsTable = "blockset_migrations"

// AdminSource is the source name of the entries that come from the admin
// domain blocklist (replicated by Raft) rather than from a threat feed.
const AdminSource = "admin blocklist"

// Snapshot is the block set as stored.
type Snapshot struct {
	// Generation grows with every change of Entries; 0 means never written.
	Generation int64
	Entries    []threatlist.Sourced
}

// Review is a link flagged for review. A link is (Domain, Code), as in
// the link store: a flag is about one link, not every link with the code.
type Review struct {
	// Domain is the link's custom domain; "" is the instance's own host.
	Domain string `json:"domain,omitempty"`
	Code   string `json:"code"`
	// Reason says why, in words (such as "target host evil.example is
	// listed by urlhaus").
	Reason string `json:"reason"`
	// Source is the list that named the target ("urlhaus", "admin
	// blocklist", "lookalike", ...).
	Source string `json:"source"`
	// At is when the link was flagged (UTC, microseconds).
	At time.Time `json:"at"`
}

// Key is the flagged link's key.
func (r Review) Key() linkstore.Key { return linkstore.Key{Domain: r.Domain, Code: r.Code} }

// MaxReviewsPage bounds a page of ListReviews.
const MaxReviewsPage = 1000

// Store is the stored block set and review flags. Implementations are safe
// for concurrent use.
type Store interface {
	// Generation is the set's generation (0: never written): the cheap
	// query that watchers poll.
	Generation(ctx context.Context) (int64, error)
	// Load reads the set and its generation in one transaction.
	Load(ctx context.Context) (Snapshot, error)
	// Replace makes entries the whole set and bumps the generation, unless
	// the entries are those stored already (then nothing is written and
	// changed is false). Entries of one kind and value keep the first
	// source given.
	Replace(ctx context.Context, entries []threatlist.Sourced) (generation int64, changed bool, err error)
	// Flag records reviews; a link flagged already keeps its first flag.
	Flag(ctx context.Context, reviews []Review) error
	// Unflag removes the review of the link (domain, code) and reports
	// whether it had one.
	Unflag(ctx context.Context, domain, code string) (bool, error)
	// Reviews returns the reviews of the links that have one.
	Reviews(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]Review, error)
	// ListReviews lists reviews newest first, up to limit (at most
	// MaxReviewsPage), after the cursor (the last review of the previous
	// page; the zero Review starts at the newest).
	ListReviews(ctx context.Context, limit int, after Review) ([]Review, error)
	// Close releases the connections.
	Close()
}

// Open opens the store of the link database dsn (postgres://… or
// sqlite://PATH). migrate applies the schema migrations (the control
// plane does; PostgreSQL edges that only read do not, SQLite always
// does, as the link store).
func Open(ctx context.Context, dsn string, migrate bool) (Store, error) {
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("blockset: %w", err)
	}
	switch d.Dialect {
	case storedsn.Postgres:
		return openPostgres(ctx, d.URL, migrate)
	case storedsn.SQLite:
		return openSQLite(ctx, d.Path)
	}
	return nil, errors.New("blockset: unsupported DSN")
}

// dedupe sorts entries by kind and value, keeping the first source of
// each, and returns them with their digest.
func dedupe(entries []threatlist.Sourced) ([]threatlist.Sourced, string) {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b threatlist.Sourced) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	out = slices.CompactFunc(out, func(a, b threatlist.Sourced) bool { return a.Entry == b.Entry })
	h := sha256.New()
	for _, e := range out {
		fmt.Fprintf(h, "%s\x00%s\x00%s\n", e.Kind, e.Value, e.Source)
	}
	return out, hex.EncodeToString(h.Sum(nil))
}

// diff is what turns the stored entries into want (deduplicated): the
// entries to delete (gone, or listed by another source now) and those to
// insert. Replace writes only these, so that a refresh that changes a few
// entries of a large feed holds the database's write lock (SQLite's, which
// link creates wait for) for a few rows, not the whole set.
func diff(stored, want []threatlist.Sourced) (del []threatlist.Entry, add []threatlist.Sourced) {
	have := make(map[threatlist.Entry]string, len(stored))
	for _, e := range stored {
		have[e.Entry] = e.Source
	}
	for _, e := range want {
		src, ok := have[e.Entry]
		switch {
		case !ok:
			add = append(add, e)
		case src != e.Source:
			del = append(del, e.Entry)
			add = append(add, e)
		}
		delete(have, e.Entry)
	}
	for e := range have {
		del = append(del, e)
	}
	return del, add
}

// pageLimit is limit within 1..MaxReviewsPage (0: 100).
func pageLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, MaxReviewsPage)
}

// reviewColumns are the columns a Review is scanned from, in order.
const reviewColumns = "domain, code, reason, source, flagged_at"
