package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// testUpdateFields: each field alone, then all at once; the others stay
// as they were, and Update returns what Get reads afterwards.
func testUpdateFields(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	expiry := time.Date(2031, 2, 3, 4, 5, 6, 789123456, time.FixedZone("UTC+1", 3600))
	expiryStored := time.Date(2031, 2, 3, 3, 5, 6, 789123000, time.UTC)
	url2 := "https://example.org/changed?x=1"
	st301, st0 := 301, 0
	yes, no := true, false
	zero := time.Time{}

	tests := []struct {
		name  string
		start func(l *linkstore.Link)
		u     linkstore.Update
		want  func(l *linkstore.Link)
	}{
		{"URL", nil, linkstore.Update{URL: &url2}, func(l *linkstore.Link) { l.URL = url2 }},
		{"status", nil, linkstore.Update{Status: &st301}, func(l *linkstore.Link) { l.Status = 301 }},
		{"status to default", func(l *linkstore.Link) { l.Status = 307 },
			linkstore.Update{Status: &st0}, func(l *linkstore.Link) { l.Status = 0 }},
		{"set expiry", nil, linkstore.Update{ExpiresAt: &expiry},
			func(l *linkstore.Link) { l.ExpiresAt = expiryStored }},
		{"change expiry", func(l *linkstore.Link) { l.ExpiresAt = l.CreatedAt.Add(time.Hour) },
			linkstore.Update{ExpiresAt: &expiry}, func(l *linkstore.Link) { l.ExpiresAt = expiryStored }},
		{"clear expiry", func(l *linkstore.Link) { l.ExpiresAt = l.CreatedAt.Add(time.Hour) },
			linkstore.Update{ExpiresAt: &zero}, func(l *linkstore.Link) { l.ExpiresAt = time.Time{} }},
		{"clear absent expiry", nil, linkstore.Update{ExpiresAt: &zero}, func(l *linkstore.Link) {}},
		{"disable", nil, linkstore.Update{Disabled: &yes}, func(l *linkstore.Link) { l.Disabled = true }},
		{"enable", func(l *linkstore.Link) { l.Disabled = true },
			linkstore.Update{Disabled: &no}, func(l *linkstore.Link) { l.Disabled = false }},
		{"nothing", func(l *linkstore.Link) { l.Status = 302; l.Disabled = true },
			linkstore.Update{}, func(l *linkstore.Link) {}},
		{"everything", func(l *linkstore.Link) { l.Status = 308; l.ExpiresAt = l.CreatedAt.Add(time.Hour) },
			linkstore.Update{URL: &url2, Status: &st301, ExpiresAt: &expiry, Disabled: &yes},
			func(l *linkstore.Link) {
				l.URL, l.Status, l.ExpiresAt, l.Disabled = url2, 301, expiryStored, true
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink()
			if tt.start != nil {
				tt.start(&l)
			}
			if err := s.Create(ctx, l); err != nil {
				t.Fatal(err)
			}
			want := l
			tt.want(&want)
			got, err := s.Update(ctx, "", l.Code, tt.u)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			CheckLink(t, "Update result", got, want)
			got, err = s.Get(ctx, "", l.Code)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			CheckLink(t, "Get after Update", got, want)
		})
	}
}

// testUpdateNotFound: an unknown code, with fields or without.
func testUpdateNotFound(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	url := "https://example.com/x"
	code := NewCode()
	for _, u := range []linkstore.Update{{}, {URL: &url}} {
		if _, err := s.Update(ctx, "", code, u); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Update(unknown, %+v): got %v, want ErrNotFound", u, err)
		}
	}
	if _, err := s.Get(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Update of an unknown code created it: %v", err)
	}
}

// testUpdateInvalid: what Create refuses, Update refuses, and the link
// stays as it was.
func testUpdateInvalid(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	l.Status = 302
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	empty, bad := "", []int{303, 200, -1, 65536 + 301}
	url2 := "https://example.org/not-applied"
	updates := []linkstore.Update{{URL: &empty}}
	for i := range bad {
		updates = append(updates, linkstore.Update{URL: &url2, Status: &bad[i]})
	}
	for _, u := range updates {
		_, err := s.Update(ctx, "", l.Code, u)
		if !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Update(%+v): got %v, want ErrInvalidLink", u, err)
		}
	}
	got, err := s.Get(ctx, "", l.Code)
	if err != nil {
		t.Fatal(err)
	}
	CheckLink(t, "Get after refused Updates", got, l)

	ctxC, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Update(ctxC, "", l.Code, linkstore.Update{URL: &url2}); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context: got %v, want context.Canceled", err)
	}
}

// testUpdateURLMovesHost: the host that List filters on follows the URL.
func testUpdateURLMovesHost(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	from, to := NewHost(), NewHost()
	l := NewLink()
	l.URL = "https://" + from + "/a"
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	newURL := "https://WWW." + to + ":8443/b"
	if _, err := s.Update(ctx, "", l.Code, linkstore.Update{URL: &newURL}); err != nil {
		t.Fatal(err)
	}
	l.URL = newURL
	if got := listCodes(t, s, linkstore.ListQuery{Host: from}); len(got) != 0 {
		t.Errorf("List(host %s) after the URL moved: %v, want none", from, got)
	}
	got, err := s.List(ctx, linkstore.ListQuery{Host: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("List(host %s): %d links, want 1", to, len(got))
	}
	CheckLink(t, "List after Update", got[0], l)
}
