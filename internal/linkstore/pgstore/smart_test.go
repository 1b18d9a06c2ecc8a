package pgstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestClaimClickExactTwoHandles: two stores on one database (two edges
// without Redis) count a limited link's clicks exactly.
func TestClaimClickExactTwoHandles(t *testing.T) {
	dsn := testenv.Schema(t)
	a := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	b := open(t, linkstore.Config{DSN: dsn})
	storetest.ClaimExact(t, a, b)
}

// TestDamagedSmartIsAnError: a row whose options do not parse reads as an
// error that names the link, never as a plain link.
func TestDamagedSmartIsAnError(t *testing.T) {
	s := open(t, linkstore.Config{DSN: testenv.Schema(t), Migrate: true})
	ctx := t.Context()
	l := storetest.NewLink()
	l.Smart = storetest.SmartOptions()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Primary().Exec(ctx, `UPDATE links SET smart = '{"max_clicks": -5}' WHERE code = $1`, l.Code); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "", l.Code)
	if err == nil || errors.Is(err, linkstore.ErrNotFound) || !strings.Contains(err.Error(), "max_clicks") {
		t.Fatalf("Get of a damaged row: %v, want an error naming max_clicks", err)
	}
	if _, err := s.List(ctx, linkstore.ListQuery{Prefix: l.Code}); err == nil {
		t.Fatal("List of a damaged row: no error")
	}
}
