package clicklimit

import (
	"context"

	"github.com/shortify/shortify/internal/linkstore"
)

// storeCounter counts in the link database's primary.
type storeCounter struct{ s linkstore.Store }

// NewStore returns a Counter that counts in the link store's primary
// (linkstore.Store.ClaimClick: one conditional upsert per claim): the
// counter of edges without Redis, PostgreSQL or the embedded SQLite file.
func NewStore(s linkstore.Store) Counter { return storeCounter{s} }

// Claim implements Counter.
func (c storeCounter) Claim(ctx context.Context, linkID, max int64) (bool, error) {
	return c.s.ClaimClick(ctx, linkID, max)
}

// Counted implements Counter.
func (c storeCounter) Counted(ctx context.Context, linkID int64) (int64, error) {
	return c.s.CountedClicks(ctx, linkID)
}
