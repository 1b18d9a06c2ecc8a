// Package backend opens the link store that a DSN names: PostgreSQL for
// postgres:// and postgresql://, SQLite for sqlite://PATH and sqlite:PATH.
package backend

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/storedsn"
)

// Open opens the store for cfg.DSN, choosing the backend by its scheme.
func Open(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
	d, err := storedsn.Parse(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("linkstore backend: %w", err)
	}
	switch d.Dialect {
	case storedsn.Postgres:
		s, err := pgstore.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		s, err := sqlitestore.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
