package pgstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
)

// TestLookupBatchesShareQueries: concurrent Lookups on a pool of one
// connection all get their own answers (links on both hosts, unknown
// codes), in fewer queries than lookups.
func TestLookupBatchesShareQueries(t *testing.T) {
	s := open(t, linkstore.Config{Migrate: true, MaxConns: 1})
	ctx := t.Context()
	var links []linkstore.Link
	for i := range 30 {
		l := storetest.NewLink()
		if i%2 == 1 {
			l.Domain = "go.batch.example"
		}
		if err := s.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	// The same code on the other host is not that link.
	other := links[0]
	other.Domain = "elsewhere.example"

	before := s.reader.Stat().AcquireCount()
	const rounds = 5
	var wg sync.WaitGroup
	for r := range rounds {
		for _, l := range links {
			wg.Go(func() {
				got, err := s.Lookup(ctx, l.Domain, l.Code)
				if err != nil || got.ID != l.ID || got.URL != l.URL || got.Domain != l.Domain || got.Code != l.Code {
					t.Errorf("round %d: Lookup(%q, %q) = %+v, %v; want link %d", r, l.Domain, l.Code, got, err, l.ID)
				}
			})
		}
		for range 5 {
			wg.Go(func() {
				if _, err := s.Lookup(ctx, other.Domain, other.Code); !errors.Is(err, linkstore.ErrNotFound) {
					t.Errorf("code on another host: %v, want ErrNotFound", err)
				}
				code := storetest.NewLink().Code
				if _, err := s.Lookup(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
					t.Errorf("unknown code: %v, want ErrNotFound", err)
				}
			})
		}
	}
	wg.Wait()
	lookups := rounds * (len(links) + 10)
	queries := s.reader.Stat().AcquireCount() - before
	t.Logf("%d lookups in %d queries", lookups, queries)
	if queries >= int64(lookups) {
		t.Errorf("%d lookups took %d queries: none shared one", lookups, queries)
	}
	if st := s.ReplicaStats(); st.PrimaryReads != uint64(lookups) {
		t.Errorf("PrimaryReads %d, want %d (one per lookup, batched or not)", st.PrimaryReads, lookups)
	}
}

// TestLookupPlansStayGeneric: after more executions than PostgreSQL's
// five custom plans, the lookups' prepared statements (pgx's statement
// cache) run on a generic plan, planned once per connection.
func TestLookupPlansStayGeneric(t *testing.T) {
	s := open(t, linkstore.Config{Migrate: true})
	ctx := t.Context()
	l := storetest.NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	conn, err := s.reader.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for i := range 10 {
		code := fmt.Sprintf("%s%d", l.Code, i)
		if _, err := conn.Exec(ctx, sqlLookup, code, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, sqlLookupMany, []string{code, l.Code}, []string{"", ""}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{sqlLookup, sqlLookupMany} {
		var generic, custom int64
		if err := conn.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, q).Scan(&generic, &custom); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		t.Logf("%.40s…: %d generic plans, %d custom plans", q, generic, custom)
		if generic == 0 {
			t.Errorf("%s: still planned for each execution (%d custom plans)", q, custom)
		}
	}
}
