// Package dualsql runs one statement text on PostgreSQL or SQLite through
// database/sql: statements are written with PostgreSQL's $n placeholders
// and take and give times as time.Time, and SQLite stores times as Unix
// microseconds (UTC). The small stores that keep tables in the link
// database with one code path for both dialects use it.
package dualsql

import (
	"fmt"
	"regexp"
	"time"
)

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// Bind adapts stmt and args to SQLite when sqlite is set: $n becomes ?n
// (SQLite's numbered parameters, so an argument may be used twice) and a
// time.Time its Unix microseconds. args is changed in place.
func Bind(sqlite bool, stmt string, args []any) (string, []any) {
	if !sqlite {
		return stmt, args
	}
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			args[i] = t.UnixMicro()
		}
	}
	return placeholder.ReplaceAllString(stmt, "?$1"), args
}

// NullTime is t, or nil (SQL NULL) when t is the zero time: the argument
// of a nullable time column.
func NullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Time scans a time from either database into *T: a timestamptz
// (PostgreSQL) or Unix microseconds (SQLite), in UTC; NULL leaves the
// zero time.
type Time struct{ T *time.Time }

// Scan implements sql.Scanner.
func (ts Time) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*ts.T = time.Time{}
	case time.Time:
		*ts.T = x.UTC()
	case int64:
		*ts.T = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("dualsql: cannot read a time from %T", v)
	}
	return nil
}
