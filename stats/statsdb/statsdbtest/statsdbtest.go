// Package statsdbtest reads the stats tables back for tests, on PostgreSQL
// or SQLite, and compares them with the reference computed from the
// events (aggtest.Truth).
package statsdbtest

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
)

// Tables is the content of the aggregate tables.
type Tables struct {
	Clicks   map[aggtest.RowKey]int64
	Visitors map[aggtest.RowKey][]byte
	Dims     map[aggtest.DimKey]int64
}

// query runs a query on either database and calls fn with a scan
// function per row.
type query func(sql string, fn func(scan func(...any) error) error) error

func open(tb testing.TB, dsn string) (query, func()) {
	tb.Helper()
	q, done, err := connect(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return q, done
}

// rows is what database/sql and pgx rows have in common.
type rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}

func each(r rows, fn func(scan func(...any) error) error) error {
	for r.Next() {
		if err := fn(r.Scan); err != nil {
			return err
		}
	}
	return r.Err()
}

func connect(dsn string) (query, func(), error) {
	ctx := context.Background()
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return nil, nil, err
	}
	if d.Dialect == storedsn.SQLite {
		db, err := sql.Open("sqlite", d.Path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, nil, err
		}
		return func(q string, fn func(func(...any) error) error) error {
			r, err := db.QueryContext(ctx, q)
			if err != nil {
				return err
			}
			defer r.Close()
			return each(r, fn)
		}, func() { db.Close() }, nil
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return func(q string, fn func(func(...any) error) error) error {
		r, err := conn.Query(ctx, q)
		if err != nil {
			return err
		}
		defer r.Close()
		return each(r, fn)
	}, func() { conn.Close(ctx) }, nil
}

// Backends runs fn as two parallel subtests: on a fresh PostgreSQL schema
// that schema returns (testenv.Schema, whose package's TestMain calls
// testenv.Main) and on a fresh SQLite file. schema is a parameter so that
// this package, part of stats/, does not import testenv, whose test CA
// comes from the control plane.
func Backends(t *testing.T, schema func(testing.TB) string, fn func(t *testing.T, dsn string)) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, schema(t))
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, "sqlite://"+filepath.Join(t.TempDir(), "stats.db"))
	})
}

// Read returns the aggregate tables of the database dsn names.
func Read(tb testing.TB, dsn string) *Tables {
	tb.Helper()
	q, done := open(tb, dsn)
	defer done()
	bucketOf := func(v any) int64 {
		switch b := v.(type) {
		case time.Time:
			return b.Unix()
		case int64:
			return b / 1_000_000
		}
		tb.Fatalf("bucket of type %T", v)
		return 0
	}
	botOf := func(v any) bool {
		switch b := v.(type) {
		case bool:
			return b
		case int64:
			return b != 0
		}
		tb.Fatalf("bot of type %T", v)
		return false
	}
	t := &Tables{Clicks: map[aggtest.RowKey]int64{}, Visitors: map[aggtest.RowKey][]byte{}, Dims: map[aggtest.DimKey]int64{}}
	for _, g := range []aggregate.Grain{aggregate.Hour, aggregate.Day} {
		table := "clicks_" + g.String()
		err := q("SELECT bucket, code, link_id, bot, clicks, visitors, dims, workspace_id FROM "+table, func(scan func(...any) error) error {
			var bucket, bot any
			var k aggtest.RowKey
			var clicks int64
			var vis, dims []byte
			if err := scan(&bucket, &k.Code, &k.LinkID, &bot, &clicks, &vis, &dims, &k.Workspace); err != nil {
				return err
			}
			k.Grain, k.Bucket, k.Bot = g, bucketOf(bucket), botOf(bot)
			t.Clicks[k] = clicks
			if vis != nil {
				t.Visitors[k] = bytes.Clone(vis)
			}
			if dims == nil {
				return nil
			}
			var d aggregate.DimCounts
			if err := d.UnmarshalBinary(dims); err != nil {
				return err
			}
			for _, dim := range aggregate.Dimensions {
				for _, v := range d[dim] {
					t.Dims[aggtest.DimKey{RowKey: k, Dimension: dim.String(), Value: v.Value}] += v.Clicks
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		// Rows of the *_dims tables, which versions before the dims
		// column wrote: the stats API adds them up with the column's.
		err = q("SELECT bucket, code, link_id, bot, dimension, value, clicks, workspace_id FROM "+table+"_dims", func(scan func(...any) error) error {
			var bucket, bot any
			var k aggtest.DimKey
			var clicks int64
			if err := scan(&bucket, &k.Code, &k.LinkID, &bot, &k.Dimension, &k.Value, &clicks, &k.Workspace); err != nil {
				return err
			}
			k.Grain, k.Bucket, k.Bot = g, bucketOf(bucket), botOf(bot)
			t.Dims[k] += clicks
			return nil
		})
		if err != nil {
			tb.Fatalf("read %s_dims: %v", table, err)
		}
	}
	return t
}

// Count returns the number of rows of a table.
func Count(tb testing.TB, dsn, table string) int64 {
	tb.Helper()
	n, err := TryCount(dsn, table)
	if err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TryCount returns the number of rows of a table, or the error, such as
// a table that does not exist yet.
func TryCount(dsn, table string) (int64, error) {
	q, done, err := connect(dsn)
	if err != nil {
		return 0, err
	}
	defer done()
	var n int64
	err = q("SELECT count(*) FROM "+table, func(scan func(...any) error) error { return scan(&n) })
	return n, err
}

// RawVariants returns the raw clicks per variant, keyed "code/variant".
func RawVariants(tb testing.TB, dsn string) map[string]int64 {
	tb.Helper()
	q, done := open(tb, dsn)
	defer done()
	out := map[string]int64{}
	err := q("SELECT code, variant, count(*) FROM clicks GROUP BY code, variant", func(scan func(...any) error) error {
		var code, variant string
		var n int64
		if err := scan(&code, &variant, &n); err != nil {
			return err
		}
		out[code+"/"+variant] = n
		return nil
	})
	if err != nil {
		tb.Fatalf("raw clicks per variant: %v", err)
	}
	return out
}

// Compare reports every difference between the tables and the truth:
// clicks and dimension clicks exactly, and each row's visitors sketch
// byte for byte against the sketch of its exact visitors.
func Compare(tb testing.TB, got *Tables, want *aggtest.Truth) {
	tb.Helper()
	errs := 0
	report := func(format string, args ...any) {
		if errs++; errs <= 20 {
			tb.Errorf(format, args...)
		}
	}
	for k, n := range want.Clicks {
		if got.Clicks[k] != n {
			report("%v %+v: %d clicks stored, want %d", k.Grain, k.Key, got.Clicks[k], n)
		}
		var wantVis []byte
		if s := want.Sketch(k); s != nil {
			wantVis, _ = s.MarshalBinary()
		}
		if !bytes.Equal(got.Visitors[k], wantVis) {
			report("%v %+v: visitors sketch differs", k.Grain, k.Key)
		}
	}
	for k, n := range got.Clicks {
		if _, ok := want.Clicks[k]; !ok {
			report("%v %+v: %d clicks stored, want no row", k.Grain, k.Key, n)
		}
	}
	for k, n := range want.Dims {
		if got.Dims[k] != n {
			report("%+v: %d clicks stored, want %d", k, got.Dims[k], n)
		}
	}
	for k, n := range got.Dims {
		if _, ok := want.Dims[k]; !ok {
			report("%+v: %d clicks stored, want no row", k, n)
		}
	}
	if errs > 20 {
		tb.Errorf("... and %d more differences", errs-20)
	}
}

// Exec runs a statement that returns no rows (DDL, for instance) on the
// database dsn names, over a connection of its own.
func Exec(tb testing.TB, dsn, stmt string) {
	tb.Helper()
	q, done, err := connect(dsn)
	if err != nil {
		tb.Fatalf("exec %q: %v", stmt, err)
	}
	defer done()
	if err := q(stmt, func(func(...any) error) error { return nil }); err != nil {
		tb.Fatalf("exec %q: %v", stmt, err)
	}
}

// Plan returns PostgreSQL's EXPLAIN of stmt with args, run by q (a
// connection or a transaction with its settings), one line per plan node.
func Plan(tb testing.TB, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, stmt string, args ...any) string {
	tb.Helper()
	rows, err := q.QueryContext(tb.Context(), "EXPLAIN "+stmt, args...)
	if err != nil {
		tb.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			tb.Fatalf("explain: %v", err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("explain: %v", err)
	}
	return plan.String()
}
