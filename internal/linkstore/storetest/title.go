package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

// testSetTitleIfEmpty: a fetched title lands on a link without one, and
// only there: not over the owner's title, not on a retired link, not on
// another link with the code (another ID or domain); an invalid title is
// refused with ErrInvalidLink.
func testSetTitleIfEmpty(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", l.Code, l.ID+1, "wrong link"); ok || err != nil {
		t.Errorf("another ID: %v, %v; want false", ok, err)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "example.org", l.Code, l.ID, "wrong domain"); ok || err != nil {
		t.Errorf("another domain: %v, %v; want false", ok, err)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", l.Code, l.ID, "Fetched “title”"); !ok || err != nil {
		t.Fatalf("SetTitleIfEmpty: %v, %v; want true", ok, err)
	}
	if got := ReadLink(t, s, "", l.Code); got.Title != "Fetched “title”" {
		t.Errorf("title %q after SetTitleIfEmpty", got.Title)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", l.Code, l.ID, "second"); ok || err != nil {
		t.Errorf("a titled link: %v, %v; want false", ok, err)
	}

	// The owner's title wins over a fetch that finishes after it.
	owned := NewLink()
	if err := s.Create(ctx, owned); err != nil {
		t.Fatalf("Create: %v", err)
	}
	mine := "mine"
	if _, err := s.Update(ctx, "", owned.Code, linkstore.Update{Title: &mine}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", owned.Code, owned.ID, "fetched"); ok || err != nil {
		t.Errorf("after the owner's title: %v, %v; want false", ok, err)
	}
	if got := ReadLink(t, s, "", owned.Code); got.Title != "mine" {
		t.Errorf("the owner's title became %q", got.Title)
	}

	// A deleted link is not titled.
	gone := NewLink()
	if err := s.Create(ctx, gone); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Delete(ctx, "", gone.Code); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", gone.Code, gone.ID, "late"); ok || err != nil {
		t.Errorf("a deleted link: %v, %v; want false", ok, err)
	}

	fresh := NewLink()
	if err := s.Create(ctx, fresh); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("x", linkstore.MaxTitle+1), "nul\x00byte", "\xff"} {
		if ok, err := s.SetTitleIfEmpty(ctx, "", fresh.Code, fresh.ID, bad); ok || !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("title %q: %v, %v; want ErrInvalidLink", bad, ok, err)
		}
	}
	if ok, err := s.SetTitleIfEmpty(ctx, "", fresh.Code, fresh.ID, strings.Repeat("é", linkstore.MaxTitle)); !ok || err != nil {
		t.Errorf("a title of MaxTitle characters: %v, %v", ok, err)
	}
}
