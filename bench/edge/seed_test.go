package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestSeedReadsBack seeds a few links of each case as the benchmark does
// (COPY into a fresh database, l2cache.Set into Redis) and reads them back
// the way the edge does (pgstore's Lookup, l2cache.Get): a smart link's
// options survive both, a plain link has none (NULL in the column).
func TestSeedReadsBack(t *testing.T) {
	rdb := newRedis(testenv.RedisAddr(t))
	t.Cleanup(func() { rdb.Close() })
	codes, err := makeCodes(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, smart := range []bool{false, true} {
		t.Run(caseName(smart), func(t *testing.T) {
			ctx := t.Context()
			db := testDatabase(t)
			links := linkSet{domainShare: 0.5, smart: smart}
			db.links = links
			if _, err := db.seed(ctx, codes); err != nil {
				t.Fatal(err)
			}
			prefix := testenv.UniquePrefix(t)
			t.Cleanup(func() {
				if err := removeKeys(rdb, prefix); err != nil {
					t.Error(err)
				}
			})
			if _, err := prefillRedis(ctx, rdb, prefix, redisTTL, links, codes, 4); err != nil {
				t.Fatal(err)
			}

			conn, err := pgx.Connect(ctx, db.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var withOptions int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM links WHERE smart IS NOT NULL").Scan(&withOptions); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 0, true: len(codes)}[smart]; withOptions != want {
				t.Errorf("%d rows with a smart column, want %d", withOptions, want)
			}

			st, err := pgstore.Open(ctx, linkstore.Config{DSN: db.dsn})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l2 := l2cache.New(rdb, prefix, redisTTL)
			for i, code := range codes {
				want := links.link(i, code)
				got, err := st.Lookup(ctx, want.Domain, code)
				if err != nil {
					t.Fatalf("Lookup %s %s: %v", want.Domain, code, err)
				}
				if !reflect.DeepEqual(got.Smart, want.Smart) || got.URL != want.URL || got.WorkspaceID != want.WorkspaceID {
					t.Errorf("Lookup %s %s = %+v, want %+v", want.Domain, code, got, want)
				}
				cached, ok, err := l2.Get(ctx, want.Domain, code)
				if err != nil || !ok {
					t.Fatalf("l2cache.Get %s %s: %v, found %v", want.Domain, code, err, ok)
				}
				if !reflect.DeepEqual(cached.Smart, want.Smart) || cached.URL != want.URL {
					t.Errorf("l2cache.Get %s %s = %+v, want %+v", want.Domain, code, cached, want)
				}
			}
		})
	}
}

// TestSeedNeedsSmartColumn checks that the smart case refuses a schema
// without the smart column with a reason, before it copies anything.
func TestSeedNeedsSmartColumn(t *testing.T) {
	ctx := t.Context()
	db := testDatabase(t)
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE links (code text)"); err != nil {
		t.Fatal(err)
	}
	err = hasSmartColumn(ctx, db.dsn)
	if err == nil {
		t.Fatal("a links table without the smart column: no error")
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE links ADD COLUMN smart jsonb"); err != nil {
		t.Fatal(err)
	}
	if err := hasSmartColumn(ctx, db.dsn); err != nil {
		t.Errorf("with the column: %v", err)
	}
}
