// Package clicklimit counts the clicks of links with a click limit
// (smartlink.Options.MaxClicks) exactly across every edge: each redirect
// of such a link first claims one click from a counter shared by all
// edges, and a claim beyond the limit fails, so that a link with
// max_clicks 100 redirects 100 times, never 101, however many edges serve
// it and whichever of them restart. Plain links never reach this package.
//
// The counter lives where the edges already share state: in Redis when
// the edge has one (one atomic script per claim), else in the link
// database's primary (one conditional upsert per claim; SQLite in the
// embedded default). Counts are keyed by the link's Snowflake ID, so a
// code released and issued again starts from zero.
package clicklimit

import "context"

// Counter claims clicks of limited links.
type Counter interface {
	// Claim counts one click of the link linkID if fewer than max were
	// counted, and reports whether it did. An error means the click could
	// not be counted: the edge must not redirect (it answers 503), or the
	// limit would not be exact.
	Claim(ctx context.Context, linkID, max int64) (bool, error)
	// Counted returns the clicks counted so far for the link.
	Counted(ctx context.Context, linkID int64) (int64, error)
}
