package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
)

// passwordHash is one argon2id hash for every test: hashing costs tens of
// milliseconds on purpose.
var passwordHash = sync.OnceValue(func() string {
	h, err := smartlink.HashPassword("correct horse battery staple")
	if err != nil {
		panic(err)
	}
	return h
})

// SmartOptions returns options that set every field a link with a password
// and a click limit may hold (cache_max_age aside, which such a link
// refuses), times in UTC at a second, as a store gives them back.
func SmartOptions() smartlink.Options {
	return smartlink.Options{
		PasswordHash: passwordHash(),
		MaxClicks:    100,
		ExpiredURL:   "https://example.com/gone",
		Rules: []smartlink.Rule{
			{When: smartlink.Conditions{Device: []string{"mobile"}, OS: []string{"ios"}}, URL: "https://apps.example.com/ios"},
			{When: smartlink.Conditions{
				Country:  []string{"DE", "AT"},
				Language: []string{"de"},
				Query:    map[string]string{"ref": "mail"},
				After:    time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
				Before:   time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
			}, URL: "https://example.de/"},
		},
		Targets: []smartlink.Target{
			{URL: "https://example.com/a", Weight: 70},
			{URL: "https://example.com/b", Weight: 30},
		},
		ForwardQuery:  true,
		QueryOverride: true,
		Preview:       &smartlink.Preview{Title: "Ünïcode “title”", Description: "d", Image: "https://example.com/i.png"},
	}
}

// testSmartEveryRead: a link's options come back from every read and
// every write that returns the link; a plain link's stay zero.
func testSmartEveryRead(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	plain := NewLink()
	smart := NewLink()
	smart.Smart = SmartOptions()
	cached := NewLink()
	cached.Smart = smartlink.Options{CacheMaxAge: 3600, ExpiredURL: "https://example.com/x"}
	for _, l := range []linkstore.Link{plain, smart, cached} {
		if err := s.Create(ctx, l); err != nil {
			t.Fatalf("Create: %v", err)
		}
		for name, read := range map[string]func(string, string) (linkstore.Link, error){
			"Get":           func(d, c string) (linkstore.Link, error) { return s.Get(ctx, d, c) },
			"Lookup":        func(d, c string) (linkstore.Link, error) { return s.Lookup(ctx, d, c) },
			"LookupPrimary": func(d, c string) (linkstore.Link, error) { return s.LookupPrimary(ctx, d, c) },
		} {
			got, err := read("", l.Code)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			CheckLink(t, name, got, l)
		}
		listed, err := s.List(ctx, linkstore.ListQuery{MinID: l.ID, MaxID: l.ID, Prefix: l.Code})
		if err != nil || len(listed) != 1 {
			t.Fatalf("List: %d links, %v", len(listed), err)
		}
		CheckLink(t, "List", listed[0], l)
	}

	down, err := s.TakeDown(ctx, "", smart.Code, "phishing", time.Now())
	if err != nil {
		t.Fatalf("TakeDown: %v", err)
	}
	CheckLink(t, "TakeDown", down, smart)
	up, err := s.LiftTakedown(ctx, "", smart.Code)
	if err != nil {
		t.Fatalf("LiftTakedown: %v", err)
	}
	CheckLink(t, "LiftTakedown", up, smart)
	gone, err := s.Delete(ctx, "", smart.Code)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := smart
	want.Disabled = true
	CheckLink(t, "Delete", gone, want)
}

// testSmartCreateMany: a batch mixing plain and smart links (and one
// invalid option) stores each link's own options.
func testSmartCreateMany(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	for _, n := range []int{1, 5} {
		links := make([]linkstore.Link, n)
		for i := range links {
			links[i] = NewLink()
			if i%2 == 0 {
				links[i].Smart = SmartOptions()
				links[i].Smart.MaxClicks = int64(i + 1)
			}
		}
		bad := NewLink()
		bad.Smart = smartlink.Options{MaxClicks: -1}
		errs := s.CreateMany(ctx, append(links, bad))
		for i, err := range errs[:n] {
			if err != nil {
				t.Fatalf("batch of %d, link %d: %v", n, i, err)
			}
		}
		if !errors.Is(errs[n], linkstore.ErrInvalidLink) {
			t.Errorf("batch of %d, invalid options: %v, want ErrInvalidLink", n, errs[n])
		}
		for _, l := range links {
			got, err := s.Get(ctx, "", l.Code)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			CheckLink(t, "Get after CreateMany", got, l)
		}
	}
}

// testSmartUpdate: Update.Smart replaces the options as a whole, a pointer
// to zero options makes a plain link again, and nil leaves them.
func testSmartUpdate(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	full := SmartOptions()
	other := smartlink.Options{MaxClicks: 5}
	var zero smartlink.Options
	url2 := "https://example.org/new"
	tests := []struct {
		name  string
		start smartlink.Options
		u     linkstore.Update
		want  smartlink.Options
	}{
		{"set", zero, linkstore.Update{Smart: &full}, full},
		{"replace", full, linkstore.Update{Smart: &other}, other},
		{"clear", full, linkstore.Update{Smart: &zero}, zero},
		{"clear plain", zero, linkstore.Update{Smart: &zero}, zero},
		{"other field keeps them", full, linkstore.Update{URL: &url2}, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink()
			l.Smart = tt.start
			if err := s.Create(ctx, l); err != nil {
				t.Fatal(err)
			}
			want := l
			want.Smart = tt.want
			if tt.u.URL != nil {
				want.URL = *tt.u.URL
			}
			got, err := s.Update(ctx, "", l.Code, tt.u)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			CheckLink(t, "Update", got, want)
			got, err = s.Get(ctx, "", l.Code)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			CheckLink(t, "Get after Update", got, want)
		})
	}
	t.Run("invalid", func(t *testing.T) {
		l := NewLink()
		if err := s.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
		bad := smartlink.Options{CacheMaxAge: 60, MaxClicks: 3}
		if _, err := s.Update(ctx, "", l.Code, linkstore.Update{Smart: &bad}); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Fatalf("Update with invalid options: %v, want ErrInvalidLink", err)
		}
	})
}
