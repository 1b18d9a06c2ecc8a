// Package backend opens the link store that a DSN names: PostgreSQL for
// postgres:// and postgresql://, SQLite for sqlite://PATH and sqlite:PATH.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
)

// Open opens the store for cfg.DSN, choosing the backend by its scheme.
func Open(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
	switch {
	case strings.HasPrefix(cfg.DSN, "postgres://"), strings.HasPrefix(cfg.DSN, "postgresql://"):
		s, err := pgstore.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	case strings.HasPrefix(cfg.DSN, "sqlite:"):
		s, err := sqlitestore.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	case cfg.DSN == "":
		return nil, errors.New("linkstore backend: no DSN (want postgres://…, postgresql://… or sqlite://PATH)")
	default:
		return nil, fmt.Errorf("linkstore backend: unsupported DSN %s (want postgres://…, postgresql://… or sqlite://PATH)", describe(cfg.DSN))
	}
}

// describe names a DSN in an error without its password: a URL is
// redacted, anything else (a key=value DSN may hold password=…) is not
// shown.
func describe(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(not a URL; not shown)"
	}
	return fmt.Sprintf("%q", u.Redacted())
}
