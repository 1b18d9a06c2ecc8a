package main

import (
	"context"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Seeded rows are links the product's store reads back whole: every one
// of a few thousand, COPYed from three connections side by side, is found
// by the store's Lookup (the edges' read) with its URL, status, workspace,
// domain and an ID whose Snowflake time is its creation time.
func TestSeedRowsReadableByTheStore(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.Database(t)
	// The schema as the control plane migrates it.
	st, err := pgstore.Open(ctx, linkstore.Config{DSN: dsn, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	const n = 3000
	c, err := makeSeedCodes(n, 3)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i := range n {
		code := c.At(i)
		if len(code) != seedCodeLen || distinct[code] {
			t.Fatalf("code %d = %q: want %d characters, distinct", i, code, seedCodeLen)
		}
		distinct[code] = true
	}
	base := time.Now().Add(-24 * time.Hour)
	if err := seed(ctx, dsn, c, 3, base); err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for i := range n {
		code := c.At(i)
		got, err := st.Lookup(ctx, "", code)
		if err != nil {
			t.Fatalf("Lookup(%s), link %d: %v", code, i, err)
		}
		want := seededLink(i, code, base)
		if got.Code != code || got.URL != want.URL || got.ID != want.ID || got.Status != 0 ||
			got.WorkspaceID != want.WorkspaceID || got.Domain != "" || got.Disabled {
			t.Fatalf("Lookup(%s) = %+v, want %+v", code, got, want)
		}
		if ts, _, _ := snowflake.Parse(got.ID); !ts.Equal(got.CreatedAt) {
			t.Fatalf("link %s: ID's time %v, created %v", code, ts, got.CreatedAt)
		}
		ids[got.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct IDs for %d links", len(ids), n)
	}
	// An unseeded code of the same shape is not found.
	if _, err := st.Lookup(context.Background(), "", "zzzzzzz"); err == nil {
		t.Fatal("Lookup of an unseeded code found a link")
	}
}
