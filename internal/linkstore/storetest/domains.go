package storetest

// Workspaces and custom domains (issue 15): (domain, code) identifies a
// link, the workspace holds it.

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// NewDomain returns a custom domain (lower case, as ValidateDomain
// wants it) that no other test uses.
func NewDomain() string { return "d" + NewHost() }

// NewWorkspace returns a workspace ID that no other test uses.
func NewWorkspace() int64 { return 1<<40 + rand.Int64N(1<<60) }

// onDomain returns a fresh link with the code on the domain.
func onDomain(domain, code string) linkstore.Link {
	l := NewLink()
	l.Code, l.Domain = code, domain
	l.URL = "https://example.com/" + domain + "/" + code
	return l
}

// testSameAliasTwoDomains: since the contract step of the rolling upgrade
// (migration 0007, docs/decisions/0004-workspace-links.md) a custom alias
// is unique per domain: the same alias names one link on each domain, in
// Create and CreateMany, each read, changed, taken down, deleted and
// released on its own; the same (domain, code) twice is still refused, and
// a retired link keeps its (domain, code) only.
func testSameAliasTwoDomains(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	code, d1, d2, d3 := NewCode(), NewDomain(), NewDomain(), NewDomain()
	own, c1 := onDomain("", code), onDomain(d1, code)
	if err := s.Create(ctx, own); err != nil {
		t.Fatalf("Create(%q, %q): %v", own.Domain, code, err)
	}
	if err := s.Create(ctx, c1); err != nil {
		t.Fatalf("Create of the own host's alias on %q: %v", d1, err)
	}
	c2 := onDomain(d2, code)
	c2.WorkspaceID = NewWorkspace()
	if errs := s.CreateMany(ctx, []linkstore.Link{c2, onDomain(d1, code), NewLink()}); errs[0] != nil ||
		!errors.Is(errs[1], linkstore.ErrCodeTaken) || errs[2] != nil {
		t.Errorf("CreateMany(the alias on %q, again on %q, a new link) = %v, want [nil, ErrCodeTaken, nil]", d2, d1, errs)
	}
	if err := s.Create(ctx, onDomain(d1, code)); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("second Create(%q, %q): %v, want ErrCodeTaken", d1, code, err)
	}
	got := ReadLink(t, s, "", code)
	CheckLink(t, "own host", got, own)
	if got.WorkspaceID != workspace.DefaultID {
		t.Errorf("a link created with workspace 0 is in workspace %d, want the default %d", got.WorkspaceID, workspace.DefaultID)
	}
	CheckLink(t, "first custom domain", ReadLink(t, s, d1, code), c1)
	if l := ReadLink(t, s, d2, code); l.WorkspaceID != c2.WorkspaceID {
		t.Errorf("second custom domain's link in workspace %d, want %d", l.WorkspaceID, c2.WorkspaceID)
	}
	for _, d := range []string{"", d1, d2} {
		if l, err := s.Lookup(ctx, d, code); err != nil || l.Domain != d || l.Code != code {
			t.Errorf("Lookup(%q, %q) = %q %q, %v", d, code, l.Domain, l.Code, err)
		}
	}

	// Writes act on their domain's link alone.
	moved := "https://example.net/moved"
	if _, err := s.Update(ctx, d1, code, linkstore.Update{URL: &moved}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeDown(ctx, d2, code, "spam", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, d2, code); err != nil {
		t.Fatal(err)
	}
	CheckLink(t, "own host after the writes on the custom domains", ReadLink(t, s, "", code), own)
	if l := ReadLink(t, s, d1, code); l.URL != moved || l.TakenDown() {
		t.Errorf("first custom domain's link: URL %q, taken down %t; want %q, false", l.URL, l.TakenDown(), moved)
	}
	// The deleted link keeps its (domain, code), never reissued, and no
	// other: the code stays free on a domain that never had it.
	if err := s.Create(ctx, onDomain(d2, code)); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("Create of a deleted link's (domain, code): %v, want ErrCodeTaken", err)
	}
	if err := s.Create(ctx, onDomain(d3, code)); err != nil {
		t.Errorf("Create of the alias on a domain that never had it: %v", err)
	}
	if err := s.Release(ctx, "", code); !errors.Is(err, linkstore.ErrLinkLive) {
		t.Errorf("Release of the live own-host link: %v, want ErrLinkLive", err)
	}
	if err := s.Release(ctx, d2, code); err != nil {
		t.Fatalf("Release(%q, %q): %v", d2, code, err)
	}
	if err := s.Create(ctx, onDomain(d2, code)); err != nil {
		t.Errorf("Create after Release: %v", err)
	}

	// One batch with a new alias on three domains stores all three.
	fresh := NewCode()
	batch := []linkstore.Link{onDomain(d1, fresh), onDomain("", fresh), onDomain(d2, fresh)}
	for i, err := range s.CreateMany(ctx, batch) {
		if err != nil {
			t.Errorf("CreateMany link %d (%q, %q): %v", i, batch[i].Domain, fresh, err)
		}
	}
	for _, l := range batch {
		CheckLink(t, "the batch's alias", ReadLink(t, s, l.Domain, fresh), l)
	}
}

// ReadLink reads a live link with Get, failing the test on an error.
func ReadLink(t *testing.T, s linkstore.Store, domain, code string) linkstore.Link {
	t.Helper()
	l, err := s.Get(t.Context(), domain, code)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", domain, code, err)
	}
	return l
}

// testDomainCodeTaken: the same (domain, code) twice is ErrCodeTaken, in
// Create and CreateMany (against the table and within the batch), and a
// retired link keeps its (domain, code) until Release; the code stays
// free on the other domains (testSameAliasTwoDomains).
func testDomainCodeTaken(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	code, d := NewCode(), NewDomain()
	if err := s.Create(ctx, onDomain(d, code)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, onDomain(d, code)); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("second Create(%q, %q): %v, want ErrCodeTaken", d, code, err)
	}

	fresh, d2 := NewCode(), NewDomain()
	batch := []linkstore.Link{
		onDomain(d, code),   // taken by the Create above
		onDomain(d2, fresh), // new
		onDomain(d2, fresh), // the batch's own duplicate
		onDomain("", code),  // the first link's code on the own host: free there
		onDomain("", NewCode()),
	}
	want := []error{linkstore.ErrCodeTaken, nil, linkstore.ErrCodeTaken, nil, nil}
	for i, err := range s.CreateMany(ctx, batch) {
		if !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
			t.Errorf("CreateMany link %d (%q, %q): %v, want %v", i, batch[i].Domain, batch[i].Code, err, want[i])
		}
	}
	for _, i := range []int{1, 3, 4} {
		CheckLink(t, "CreateMany", ReadLink(t, s, batch[i].Domain, batch[i].Code), batch[i])
	}

	// A retired link keeps its (domain, code); Release frees it.
	if _, err := s.Delete(ctx, d2, fresh); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, onDomain(d2, fresh)); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("Create of a deleted link's (domain, code): %v, want ErrCodeTaken", err)
	}
	if errs := s.CreateMany(ctx, []linkstore.Link{onDomain(d2, fresh)}); !errors.Is(errs[0], linkstore.ErrCodeTaken) {
		t.Errorf("CreateMany of a deleted link's (domain, code): %v, want ErrCodeTaken", errs[0])
	}
	if err := s.Release(ctx, d, code); !errors.Is(err, linkstore.ErrLinkLive) {
		t.Errorf("Release of the live link on %q: %v, want ErrLinkLive", d, err)
	}
	if err := s.Release(ctx, NewDomain(), fresh); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Release of the deleted link's code on another domain: %v, want ErrNotFound", err)
	}
	if err := s.Release(ctx, d2, fresh); err != nil {
		t.Fatalf("Release(%q, %q): %v", d2, fresh, err)
	}
	if err := s.Create(ctx, onDomain(d2, fresh)); err != nil {
		t.Errorf("Create after Release: %v", err)
	}
}

// testDomainWrites: Update, TakeDown, LiftTakedown, Release and Delete
// act on the link of the domain they are given: its code on another
// domain (the own host included) is ErrNotFound and changes nothing.
func testDomainWrites(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	d := NewDomain()
	own, custom := onDomain("", NewCode()), onDomain(d, NewCode())
	createLinks(t, s, []linkstore.Link{own, custom})

	url := "https://example.net/moved"
	got, err := s.Update(ctx, d, custom.Code, linkstore.Update{URL: &url})
	if err != nil || got.URL != url || got.Domain != d {
		t.Fatalf("Update(%q): %+v, %v", d, got, err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.TakeDown(ctx, d, custom.Code, "phishing", at); err != nil {
		t.Fatalf("TakeDown(%q): %v", d, err)
	}
	if _, err := s.Update(ctx, d, custom.Code, linkstore.Update{URL: &url}); !errors.Is(err, linkstore.ErrTakenDown) {
		t.Errorf("Update of the taken-down link: %v, want ErrTakenDown", err)
	}
	if l, err := s.LiftTakedown(ctx, d, custom.Code); err != nil || l.TakenDown() {
		t.Errorf("LiftTakedown(%q): %+v, %v", d, l, err)
	}

	other := "https://example.net/elsewhere"
	for _, miss := range []struct{ domain, code string }{
		{"", custom.Code}, {NewDomain(), custom.Code}, {d, own.Code}, {NewDomain(), own.Code},
	} {
		if _, err := s.Update(ctx, miss.domain, miss.code, linkstore.Update{URL: &other}); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Update(%q, %q): %v, want ErrNotFound", miss.domain, miss.code, err)
		}
		if _, err := s.TakeDown(ctx, miss.domain, miss.code, "phishing", at); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("TakeDown(%q, %q): %v, want ErrNotFound", miss.domain, miss.code, err)
		}
		if _, err := s.LiftTakedown(ctx, miss.domain, miss.code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("LiftTakedown(%q, %q): %v, want ErrNotFound", miss.domain, miss.code, err)
		}
		if err := s.Release(ctx, miss.domain, miss.code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Release(%q, %q): %v, want ErrNotFound", miss.domain, miss.code, err)
		}
		if _, err := s.Delete(ctx, miss.domain, miss.code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Delete(%q, %q): %v, want ErrNotFound", miss.domain, miss.code, err)
		}
	}
	CheckLink(t, "own host after the writes elsewhere", ReadLink(t, s, "", own.Code), own)
	if l := ReadLink(t, s, d, custom.Code); l.URL != url || l.TakenDown() {
		t.Errorf("custom domain's link after the writes elsewhere: URL %q, taken down %t; want %q, false", l.URL, l.TakenDown(), url)
	}
}

// testInvalidDomainOrWorkspace: a domain that is not a lower-case
// punycode host name, or a negative workspace, is refused with
// ErrInvalidLink and stores nothing; List refuses the same filters.
func testInvalidDomainOrWorkspace(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	for _, d := range []string{"Example.com", "example.com.", "example.com:443", ".example.com",
		"a..b", "-a.example", "a-.example", "ex ample.com", "exämple.com", "a/b", string(make([]byte, 254))} {
		l := onDomain("", NewCode())
		l.Domain = d
		if err := s.Create(ctx, l); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Create on domain %.20q: %v, want ErrInvalidLink", d, err)
		}
		if errs := s.CreateMany(ctx, []linkstore.Link{l}); !errors.Is(errs[0], linkstore.ErrInvalidLink) {
			t.Errorf("CreateMany on domain %.20q: %v, want ErrInvalidLink", d, errs[0])
		}
		if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("the refused link on %.20q was stored: %v", d, err)
		}
		if _, err := s.List(ctx, linkstore.ListQuery{Domain: d}); err == nil {
			t.Errorf("List with domain %.20q: no error", d)
		}
	}
	l := NewLink()
	l.WorkspaceID = -1
	if err := s.Create(ctx, l); !errors.Is(err, linkstore.ErrInvalidLink) {
		t.Errorf("Create in workspace -1: %v, want ErrInvalidLink", err)
	}
	if _, err := s.List(ctx, linkstore.ListQuery{WorkspaceID: -1}); err == nil {
		t.Error("List of workspace -1: no error")
	}
}

// testListWorkspaceAndDomain: List keeps one workspace's links, one
// domain's, or both, newest first and page by page, without retired
// links.
func testListWorkspaceAndDomain(t *testing.T, s linkstore.Store) {
	ws, other := NewWorkspace(), NewWorkspace()
	d1, d2 := NewDomain(), NewDomain()
	base := idBase()
	var all []linkstore.Link
	for i := range 12 {
		l := onDomain([]string{"", d1, d2}[i%3], NewCode())
		l.ID = base + int64(i*7%12) // not created in ID order
		l.WorkspaceID = ws
		if i%4 == 3 {
			l.WorkspaceID = other
		}
		all = append(all, l)
	}
	createLinks(t, s, all)
	// One deleted link of each filter's set leaves the listings.
	if _, err := s.Delete(t.Context(), all[1].Domain, all[1].Code); err != nil {
		t.Fatal(err)
	}
	live := append(all[:1:1], all[2:]...)
	keep := func(f func(linkstore.Link) bool) []linkstore.Link {
		var out []linkstore.Link
		for _, l := range live {
			if f(l) {
				out = append(out, l)
			}
		}
		return newest(out)
	}
	inWS := keep(func(l linkstore.Link) bool { return l.WorkspaceID == ws })
	tests := []struct {
		name string
		q    linkstore.ListQuery
		want []linkstore.Link
	}{
		{"workspace", linkstore.ListQuery{WorkspaceID: ws}, inWS},
		{"other workspace", linkstore.ListQuery{WorkspaceID: other}, keep(func(l linkstore.Link) bool { return l.WorkspaceID == other })},
		{"domain", linkstore.ListQuery{Domain: d1, MinID: base}, keep(func(l linkstore.Link) bool { return l.Domain == d1 })},
		{"workspace and domain", linkstore.ListQuery{WorkspaceID: ws, Domain: d2},
			keep(func(l linkstore.Link) bool { return l.WorkspaceID == ws && l.Domain == d2 })},
		{"workspace, every domain in the ID range", linkstore.ListQuery{WorkspaceID: ws, MinID: base, MaxID: base + 5},
			keep(func(l linkstore.Link) bool { return l.WorkspaceID == ws && l.ID <= base+5 })},
		{"workspace and prefix", linkstore.ListQuery{WorkspaceID: ws, Prefix: inWS[0].Code}, inWS[:1]},
		{"unknown workspace", linkstore.ListQuery{WorkspaceID: NewWorkspace()}, nil},
		{"unknown domain", linkstore.ListQuery{Domain: NewDomain()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkList(t, s, tt.q, tt.want) })
	}
	t.Run("pages", func(t *testing.T) {
		var got []linkstore.Link
		q := linkstore.ListQuery{WorkspaceID: ws, Limit: 2}
		for {
			page, err := s.List(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < q.Limit {
				break
			}
			q.Before = page[len(page)-1].ID
		}
		if g, w := codes(got), codes(inWS); !slices.Equal(g, w) {
			t.Errorf("pages of the workspace: %q, want %q", g, w)
		}
	})
}

// testCountLive: CountLive counts a workspace's live links on every
// domain, and neither retired links nor other workspaces' links.
func testCountLive(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws := NewWorkspace()
	count := func(want int64) {
		t.Helper()
		if n, err := s.CountLive(ctx, ws); err != nil || n != want {
			t.Errorf("CountLive: %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	var links []linkstore.Link
	for i := range 5 {
		l := onDomain([]string{"", NewDomain()}[i%2], NewCode())
		l.WorkspaceID = ws
		links = append(links, l)
	}
	other := NewLink()
	other.WorkspaceID = NewWorkspace()
	createLinks(t, s, append(links, other))
	count(5)
	if _, err := s.Delete(ctx, links[1].Domain, links[1].Code); err != nil {
		t.Fatal(err)
	}
	count(4)
	if _, err := s.TakeDown(ctx, links[2].Domain, links[2].Code, "spam", time.Now()); err != nil {
		t.Fatal(err)
	}
	count(4) // a taken-down link is live: it still holds its place
}

// testCountLiveUpTo: CountLiveUpTo counts a workspace's live links up to
// the limit, and nothing for a limit of 0 or less.
func testCountLiveUpTo(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws := NewWorkspace()
	var links []linkstore.Link
	for i := range 4 {
		l := onDomain([]string{"", NewDomain()}[i%2], NewCode())
		l.WorkspaceID = ws
		links = append(links, l)
	}
	createLinks(t, s, links)
	if _, err := s.Delete(ctx, links[0].Domain, links[0].Code); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want int64 }{{-1, 0}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 3}, {1000, 3}} {
		if n, err := s.CountLiveUpTo(ctx, ws, tt.limit); err != nil || n != tt.want {
			t.Errorf("CountLiveUpTo(limit %d) = %d, %v; want %d", tt.limit, n, err, tt.want)
		}
	}
	if n, err := s.CountLiveUpTo(ctx, NewWorkspace(), 10); err != nil || n != 0 {
		t.Errorf("CountLiveUpTo of an empty workspace = %d, %v; want 0", n, err)
	}
}
