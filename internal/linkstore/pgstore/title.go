package pgstore

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/internal/linkstore"
)

// sqlSetTitleIfEmpty titles a live link that has no title, in one
// statement: a title the owner set meanwhile wins.
const sqlSetTitleIfEmpty = `UPDATE links SET title = $4
WHERE domain = $1 AND code = $2 AND id = $3 AND retired_at IS NULL AND title IS NULL`

// SetTitleIfEmpty sets a fetched title (see linkstore.Store).
func (s *Store) SetTitleIfEmpty(ctx context.Context, domain, code string, id int64, title string) (bool, error) {
	if err := linkstore.CheckFetchedTitle(title); err != nil {
		return false, fmt.Errorf("pgstore: set title of %q: %w", code, err)
	}
	tag, err := s.primary.Exec(ctx, sqlSetTitleIfEmpty, domain, code, id, title)
	if err != nil {
		return false, fmt.Errorf("pgstore: set title of %q: %w", code, err)
	}
	return tag.RowsAffected() == 1, nil
}
