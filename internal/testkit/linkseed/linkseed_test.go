package linkseed

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

var created = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// link is the i-th test link: every third one on a custom domain, every
// other one with smart options when smart is set.
func link(i int, smart bool) linkstore.Link {
	code := fmt.Sprintf("s%05d", i)
	l := linkstore.Link{ID: int64(1)<<40 + int64(i), Code: code, URL: "https://example.com/t/" + code, CreatedAt: created, WorkspaceID: 1}
	if i%3 == 0 {
		l.Domain, l.WorkspaceID = "go.example.org", 2
	}
	if smart && i%2 == 0 {
		l.Smart = smartlink.Options{Targets: []smartlink.Target{{URL: l.URL + "/a", Weight: 70}, {URL: l.URL + "/b", Weight: 30}}}
	}
	return l
}

// Seeded rows are links the product's store reads back whole, from
// several connections side by side, with their options or none.
func TestCopyReadsBack(t *testing.T) {
	for _, smart := range []bool{false, true} {
		t.Run(fmt.Sprintf("smart=%v", smart), func(t *testing.T) {
			ctx := t.Context()
			dsn := testenv.Schema(t)
			st := teststore.Postgres(t, dsn) // migrates
			const n = 2000
			host := ""
			if smart {
				host = "example.com" // given, not parsed
			}
			_, err := Copy(ctx, Config{DSN: dsn, N: n, Workers: 3, Host: host, Smart: smart}, func(i int) (linkstore.Link, error) {
				return link(i, smart), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				want := link(i, smart)
				got, err := st.Lookup(ctx, want.Domain, want.Code)
				if err != nil {
					t.Fatalf("Lookup(%q, %q): %v", want.Domain, want.Code, err)
				}
				if got.ID != want.ID || got.URL != want.URL || got.WorkspaceID != want.WorkspaceID || !got.CreatedAt.Equal(want.CreatedAt) ||
					!reflect.DeepEqual(got.Smart, want.Smart) {
					t.Fatalf("link %d: got %+v, want %+v", i, got, want)
				}
			}
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var rows, hosts, nulls int
			err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE host = 'example.com'), count(*) FILTER (WHERE smart IS NULL) FROM links`).Scan(&rows, &hosts, &nulls)
			if err != nil {
				t.Fatal(err)
			}
			wantNulls := n
			if smart {
				wantNulls = n / 2
			}
			if rows != n || hosts != n || nulls != wantNulls {
				t.Fatalf("rows %d, with host example.com %d, smart NULL %d; want %d, %d, %d", rows, hosts, nulls, n, n, wantNulls)
			}
		})
	}
}

// A Source's error stops the seed and comes back with the link's index.
func TestCopySourceError(t *testing.T) {
	dsn := testenv.Schema(t)
	teststore.Postgres(t, dsn)
	boom := errors.New("boom")
	_, err := Copy(t.Context(), Config{DSN: dsn, N: 100, Workers: 2}, func(i int) (linkstore.Link, error) {
		if i == 70 {
			return linkstore.Link{}, boom
		}
		return link(i, false), nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "link 70") {
		t.Fatalf("Copy = %v, want boom at link 70", err)
	}
}

// indexDefs are the definitions of every index of the links table and
// of its partitions, sorted.
func indexDefs(t *testing.T, dsn string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = 'links'::regclass OR i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'links'::regclass)
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

// DeferIndexes leaves the table with the indexes the migrations made,
// names and definitions, on the table and on every partition; the links
// read back, through the unique index that stayed and the ones built
// again (a lookup by ID).
func TestCopyDeferIndexes(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.Schema(t)
	st := teststore.Postgres(t, dsn)
	before := indexDefs(t, dsn)
	if len(before) < 10 {
		t.Fatalf("only %d indexes before the seed: %v", len(before), before)
	}
	const n = 1000
	tm, err := Copy(ctx, Config{DSN: dsn, N: n, Workers: 2, DeferIndexes: true}, func(i int) (linkstore.Link, error) { return link(i, false), nil })
	if err != nil {
		t.Fatal(err)
	}
	if tm.Copy <= 0 || tm.Indexes <= 0 {
		t.Errorf("timing %+v: want the copy and the index builds timed", tm)
	}
	if after := indexDefs(t, dsn); !reflect.DeepEqual(after, before) {
		t.Fatalf("indexes after the seed differ:\nbefore %q\nafter  %q", before, after)
	}
	for i := range n {
		want := link(i, false)
		if got, err := st.Lookup(ctx, want.Domain, want.Code); err != nil || got.ID != want.ID {
			t.Fatalf("Lookup(%q, %q) = %+v, %v", want.Domain, want.Code, got, err)
		}
	}
}
