package pgstore

import (
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestLookupLeavesOrganizeFields: the redirect path's reads leave out the
// title, tags and notes (edgeColumns) and return the rest as Get does.
func TestLookupLeavesOrganizeFields(t *testing.T) {
	s := open(t, linkstore.Config{DSN: testenv.Schema(t), Migrate: true})
	l := storetest.NewLink()
	l.Title, l.Tags, l.Notes = "t", []string{"a"}, "n"
	if err := s.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	owner, err := s.Get(t.Context(), "", l.Code)
	if err != nil || owner.Title != "t" {
		t.Fatalf("Get: %+v, %v", owner, err)
	}
	owner.Title, owner.Tags, owner.Notes = "", nil, ""
	for name, lookup := range map[string]func() (linkstore.Link, error){
		"Lookup":        func() (linkstore.Link, error) { return s.Lookup(t.Context(), "", l.Code) },
		"LookupPrimary": func() (linkstore.Link, error) { return s.LookupPrimary(t.Context(), "", l.Code) },
	} {
		got, err := lookup()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Title != "" || got.Tags != nil || got.Notes != "" || got.URL != owner.URL || got.ID != owner.ID {
			t.Errorf("%s = %+v, want %+v", name, got, owner)
		}
	}
}
