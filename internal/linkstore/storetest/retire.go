package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// testRetiredExpiredNeverReissued (a case of RetireExpired, in its era):
// a link that expired and was retired keeps its code: Create and
// CreateMany refuse it, the owner's reads do not see it, the redirect
// path's do (it answers 410), and Release frees it.
func testRetiredExpiredNeverReissued(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	at := expiredEra.Add(time.Hour)
	l := eraLink(at)
	createLinks(t, s, []linkstore.Link{l})
	now := at.Add(time.Minute)
	gone, err := s.RetireExpired(ctx, now, 10)
	if err != nil || len(gone) != 1 {
		t.Fatalf("RetireExpired: %d links, %v; want 1", len(gone), err)
	}
	if g := gone[0]; g.RetiredReason != linkstore.RetiredExpired || !g.RetiredAt.Equal(now) {
		t.Errorf("retired link: reason %q at %v, want %q at %v", g.RetiredReason, g.RetiredAt, linkstore.RetiredExpired, now)
	}
	checkCodeRetired(t, s, l.Code)
	for name, lookup := range map[string]func() (linkstore.Link, error){
		"Lookup":        func() (linkstore.Link, error) { return s.Lookup(ctx, "", l.Code) },
		"LookupPrimary": func() (linkstore.Link, error) { return s.LookupPrimary(ctx, "", l.Code) },
	} {
		got, err := lookup()
		if err != nil {
			t.Fatalf("%s of a retired-expired link: %v", name, err)
		}
		CheckLink(t, name, got, l)
		if !got.Retired() || got.RetiredReason != linkstore.RetiredExpired || !got.Expired(now) {
			t.Errorf("%s: %+v, want it retired, expired", name, got)
		}
	}
	if again, err := s.RetireExpired(ctx, now, 10); err != nil || len(again) != 0 {
		t.Errorf("RetireExpired again: %d links, %v; want none", len(again), err)
	}
	checkRelease(t, s, l.Code)
}

// checkCodeRetired checks that the owner's view does not see the retired
// code and that no create can take it.
func checkCodeRetired(t *testing.T, s linkstore.Store, code string) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.Get(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get of a retired link: %v, want ErrNotFound", err)
	}
	url := "https://elsewhere.example/"
	if _, err := s.Update(ctx, "", code, linkstore.Update{URL: &url}); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Update of a retired link: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Delete of a retired link: %v, want ErrNotFound", err)
	}
	if _, err := s.TakeDown(ctx, "", code, "spam", time.Now()); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("TakeDown of a retired link: %v, want ErrNotFound", err)
	}
	if links, err := s.List(ctx, linkstore.ListQuery{Prefix: code}); err != nil || len(links) != 0 {
		t.Errorf("List by the retired code: %d links, %v; want none", len(links), err)
	}
	taker := NewLink()
	taker.Code, taker.URL = code, url
	if err := s.Create(ctx, taker); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("Create of a retired code: %v, want ErrCodeTaken", err)
	}
	other := NewLink()
	for _, errs := range [][]error{
		s.CreateMany(ctx, []linkstore.Link{taker}),
		s.CreateMany(ctx, []linkstore.Link{other, taker}),
	} {
		if !errors.Is(errs[len(errs)-1], linkstore.ErrCodeTaken) {
			t.Errorf("CreateMany of a retired code: %v, want ErrCodeTaken", errs)
		}
	}
}

// checkRelease releases the retired code, then creates a link with it.
func checkRelease(t *testing.T, s linkstore.Store, code string) {
	t.Helper()
	ctx := t.Context()
	if err := s.Release(ctx, "", code); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Release(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("second Release: %v, want ErrNotFound", err)
	}
	fresh := NewLink()
	fresh.Code = code
	if err := s.Create(ctx, fresh); err != nil {
		t.Fatalf("Create after Release: %v", err)
	}
	if err := s.Release(ctx, "", code); !errors.Is(err, linkstore.ErrLinkLive) {
		t.Errorf("Release of a live link: %v, want ErrLinkLive", err)
	}
	got, err := s.Get(ctx, "", code)
	if err != nil {
		t.Fatalf("Get after Release and Create: %v", err)
	}
	CheckLink(t, "link after Release", got, fresh)
}

// testDeletedNeverReissued: a deleted link is retired (reason deleted):
// unknown to the redirect path as to its owner, its code refused, until a
// Release.
func testDeletedNeverReissued(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.Delete(ctx, "", l.Code)
	if err != nil {
		t.Fatal(err)
	}
	if deleted.RetiredReason != linkstore.RetiredDeleted || !deleted.Retired() {
		t.Errorf("Delete's link: %+v, want it retired (deleted)", deleted)
	}
	if _, err := s.Lookup(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Lookup of a deleted link: %v, want ErrNotFound", err)
	}
	if _, err := s.LookupPrimary(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("LookupPrimary of a deleted link: %v, want ErrNotFound", err)
	}
	checkCodeRetired(t, s, l.Code)
	checkRelease(t, s, l.Code)
	if err := s.Release(ctx, "", NewCode()); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Release of an unknown code: %v, want ErrNotFound", err)
	}
}

// testTakedown: a taken-down link shows its takedown to the owner and the
// edge, refuses updates until it is lifted, and keeps answering (451) at
// the edge after a delete.
func testTakedown(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "  ", "a\nb", strings.Repeat("x", linkstore.MaxTakedownReason+1), "\xff"} {
		if _, err := s.TakeDown(ctx, "", l.Code, bad, time.Now()); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("TakeDown with reason %q: %v, want ErrInvalidLink", bad, err)
		}
	}
	if _, err := s.TakeDown(ctx, "", NewCode(), "x", time.Now()); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("TakeDown of an unknown code: %v, want ErrNotFound", err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	reason := `Phishing <script>alert("x")</script> — court order 12/2026`
	down, err := s.TakeDown(ctx, "", l.Code, reason, at)
	if err != nil {
		t.Fatalf("TakeDown: %v", err)
	}
	for name, read := range map[string]func() (linkstore.Link, error){
		"TakeDown": func() (linkstore.Link, error) { return down, nil },
		"Get":      func() (linkstore.Link, error) { return s.Get(ctx, "", l.Code) },
		"Lookup":   func() (linkstore.Link, error) { return s.Lookup(ctx, "", l.Code) },
	} {
		got, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		CheckLink(t, name, got, l)
		if got.TakedownReason != reason || !got.TakedownAt.Equal(at) || !got.TakenDown() {
			t.Errorf("%s: takedown %q at %v, want %q at %v", name, got.TakedownReason, got.TakedownAt, reason, at)
		}
	}
	url := "https://elsewhere.example/"
	enable := false
	for _, u := range []linkstore.Update{{URL: &url}, {Disabled: &enable}} {
		if _, err := s.Update(ctx, "", l.Code, u); !errors.Is(err, linkstore.ErrTakenDown) {
			t.Errorf("Update of a taken-down link: %v, want ErrTakenDown", err)
		}
	}
	lifted, err := s.LiftTakedown(ctx, "", l.Code)
	if err != nil || lifted.TakenDown() || lifted.TakedownReason != "" {
		t.Fatalf("LiftTakedown: %+v, %v", lifted, err)
	}
	if got, err := s.Update(ctx, "", l.Code, linkstore.Update{URL: &url}); err != nil || got.URL != url {
		t.Fatalf("Update after the lift: %+v, %v", got, err)
	}

	// Deleted while taken down: the edge still sees the takedown.
	if _, err := s.TakeDown(ctx, "", l.Code, "spam", at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "", l.Code); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Lookup(ctx, "", l.Code); err != nil || got.TakedownReason != "spam" {
		t.Errorf("Lookup of a deleted, taken-down link: %+v, %v; want its takedown", got, err)
	}
	if _, err := s.LiftTakedown(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("LiftTakedown of a retired link: %v, want ErrNotFound", err)
	}
}
