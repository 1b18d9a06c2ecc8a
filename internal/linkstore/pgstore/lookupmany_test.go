package pgstore

import (
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
)

// TestLookupMany reads live, disabled, expired and deleted links and an unknown code in one call: it answers what Lookup
// answers for each, keyed by domain and code.
func TestLookupMany(t *testing.T) {
	s := open(t, linkstore.Config{Migrate: true})
	ctx := t.Context()
	live, disabled, expired, deleted := storetest.NewLink(), storetest.NewLink(), storetest.NewLink(), storetest.NewLink()
	disabled.Disabled = true
	expired.ExpiresAt = time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	for _, l := range []linkstore.Link{live, disabled, expired, deleted} {
		if err := s.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(ctx, deleted.Domain, deleted.Code); err != nil {
		t.Fatal(err)
	}
	unknown := linkstore.Key{Code: storetest.NewLink().Code}
	keys := []linkstore.Key{live.Key(), disabled.Key(), expired.Key(), deleted.Key(), unknown}
	got, err := s.LookupMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		want, werr := s.Lookup(ctx, k.Domain, k.Code)
		l, ok := got[k]
		if ok != (werr == nil) {
			t.Errorf("%v: found %v, Lookup says %v", k, ok, werr)
			continue
		}
		if ok && (l.ID != want.ID || l.URL != want.URL || l.Disabled != want.Disabled || l.RetiredAt.IsZero() != want.RetiredAt.IsZero()) {
			t.Errorf("%v: %+v, Lookup %+v", k, l, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d links found, want 3 (live, disabled, expired)", len(got))
	}
	if got, err := s.LookupMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no keys: %v, %v", got, err)
	}
}
