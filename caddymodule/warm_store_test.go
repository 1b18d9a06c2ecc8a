package caddymodule

import (
	"context"
	"errors"

	"github.com/shortify/shortify/internal/linkstore"
)

// LookupMany makes a countingStore a manyLooker (warm.go) whatever it
// wraps: the wrapped store's LookupMany when it has one (PostgreSQL),
// else Lookup per code. Each code counts as a lookup, and each call as a
// batch.
func (s *countingStore) LookupMany(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]linkstore.Link, error) {
	s.lookups.Add(int64(len(keys)))
	s.batches.Add(1)
	if ml, ok := s.Store.(manyLooker); ok {
		return ml.LookupMany(ctx, keys)
	}
	out := make(map[linkstore.Key]linkstore.Link, len(keys))
	for _, k := range keys {
		l, err := s.Store.Lookup(ctx, k.Domain, k.Code)
		switch {
		case errors.Is(err, linkstore.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[k] = l
		}
	}
	return out, nil
}
