// Package storedsn parses the DSN of a Shortify store: postgres://… or
// postgresql://… for PostgreSQL, sqlite://PATH (or sqlite:PATH) for SQLite.
// It is the one place that tells the dialects apart, for the link store, the
// stats database and everything that opens either, so that every component
// accepts and refuses the same strings with the same answers.
package storedsn

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Dialect is a database engine Shortify can store in.
type Dialect int

// The dialects. The zero Dialect is none.
const (
	Postgres Dialect = iota + 1
	SQLite
)

// String names the dialect.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	}
	return "none"
}

// want lists the accepted forms, for error messages.
const want = "want postgres://…, postgresql://… or sqlite://PATH"

// ErrEmpty means the DSN is the empty string.
var ErrEmpty = errors.New("no DSN (" + want + ")")

// ErrUnsupported means the DSN names no supported dialect. The error that
// wraps it shows the DSN redacted, or not at all when it is not a URL (a
// key=value DSN may hold password=…).
var ErrUnsupported = errors.New("unsupported DSN")

// DSN is a parsed store DSN.
type DSN struct {
	// Dialect is the database engine.
	Dialect Dialect
	// URL is the DSN as given, for the PostgreSQL driver (PostgreSQL
	// only; the driver parses and checks the rest).
	URL string
	// Path is the SQLite file's path as written, relative or absolute
	// (sqlite:///abs is /abs); SQLite only.
	Path string
}

// Parse tells the DSN's dialect by its scheme (case-sensitive, as the
// drivers are) and, for SQLite, extracts the file path. A SQLite DSN must
// name a file: no query parameters (the stores set their own pragmas), no
// :memory: or file: URI.
func Parse(s string) (DSN, error) {
	switch {
	case s == "":
		return DSN{}, ErrEmpty
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return DSN{Dialect: Postgres, URL: s}, nil
	case strings.HasPrefix(s, "sqlite:"):
		path, err := sqlitePath(s)
		if err != nil {
			return DSN{}, err
		}
		return DSN{Dialect: SQLite, Path: path}, nil
	}
	return DSN{}, fmt.Errorf("%w %s (%s)", ErrUnsupported, Describe(s), want)
}

// sqlitePath returns the file path of a sqlite://PATH or sqlite:PATH DSN.
func sqlitePath(s string) (string, error) {
	path, ok := strings.CutPrefix(s, "sqlite://")
	if !ok {
		path = strings.TrimPrefix(s, "sqlite:")
	}
	switch {
	case path == "":
		return "", errors.New("DSN has no file path (want sqlite://PATH or sqlite:PATH)")
	case strings.Contains(path, "?"):
		return "", fmt.Errorf("DSN %q: query parameters are not supported", s)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return "", fmt.Errorf("DSN %q: want the path of a file", s)
	}
	return path, nil
}

// Describe names a DSN in an error without its password: a URL is
// redacted, anything else is not shown.
func Describe(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(not a URL; not shown)"
	}
	return fmt.Sprintf("%q", u.Redacted())
}
