package sqlitestore

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
)

// TestClaimClickExactTwoHandles: two stores on one file (the control
// plane and an edge, or two processes) count a limited link's clicks
// exactly.
func TestClaimClickExactTwoHandles(t *testing.T) {
	dsn := tempDSN(t)
	storetest.ClaimExact(t, open(t, dsn), open(t, dsn))
}

// TestDamagedSmartIsAnError: a row whose options do not parse reads as an
// error that names the link, never as a plain link.
func TestDamagedSmartIsAnError(t *testing.T) {
	s := open(t, tempDSN(t))
	ctx := t.Context()
	l := storetest.NewLink()
	l.Smart = storetest.SmartOptions()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"max_clicks": -5}`, `not json`} {
		if _, err := s.w.ExecContext(ctx, `UPDATE links SET smart = ? WHERE code = ?`, bad, l.Code); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, "", l.Code)
		if err == nil || errors.Is(err, linkstore.ErrNotFound) || !strings.Contains(err.Error(), "smartlink") {
			t.Fatalf("Get of a damaged row (%s): %v, want a smartlink error", bad, err)
		}
		if _, err := s.List(ctx, linkstore.ListQuery{Prefix: l.Code}); err == nil {
			t.Fatalf("List of a damaged row (%s): no error", bad)
		}
	}
}
