package pgstore

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/internal/linkstore"
)

// LookupMany reads the links of keys as Lookup reads one (a healthy
// replica, the codes it lacks confirmed on the primary; live and
// retired-expired links, taken-down ones), in one query to each
// (lookupKeys, the query of Lookup's batches). The map holds the links
// found; a key absent from it is not found. It is the edge's warm start
// (caddymodule/warm.go), which loads the hot codes Redis lacks before the
// edge takes traffic; the redirect path's Lookups share queries on their
// own (lookupbatch.go).
func (s *Store) LookupMany(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]linkstore.Link, error) {
	if len(keys) == 0 {
		return map[linkstore.Key]linkstore.Link{}, nil
	}
	found, err := s.lookupKeys(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("pgstore: lookup %d codes: %w", len(keys), err)
	}
	return found, nil
}
