package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

// testOrganizeRoundTrip: title, tags and notes come back from Create,
// CreateMany and Update, tags cleaned (trimmed, deduplicated ignoring
// case, as spelled first); Update replaces and clears them.
func testOrganizeRoundTrip(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	one, many := NewLink(), NewLink()
	for _, l := range []*linkstore.Link{&one, &many} {
		l.Title = "Ünïcode “title”"
		l.Tags = []string{" Launch ", "launch", "Q3", "q3 ", "émoji 🚀"}
		l.Notes = "line one\nline two"
	}
	want := []string{"Launch", "Q3", "émoji 🚀"}
	if err := s.Create(ctx, one); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if errs := s.CreateMany(ctx, []linkstore.Link{many, NewLink()}); errs[0] != nil || errs[1] != nil {
		t.Fatalf("CreateMany: %v", errs)
	}
	for _, l := range []linkstore.Link{one, many} {
		got := ReadLink(t, s, "", l.Code)
		if got.Title != l.Title || got.Notes != l.Notes || !reflect.DeepEqual(got.Tags, want) {
			t.Errorf("%s: title %q, tags %q, notes %q; want %q, %q, %q", l.Code, got.Title, got.Tags, got.Notes, l.Title, want, l.Notes)
		}
	}
	title, notes, tags := "new", "", []string{"x", "X", "y"}
	got, err := s.Update(ctx, "", one.Code, linkstore.Update{Title: &title, Notes: &notes, Tags: &tags})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got.Title != "new" || got.Notes != "" || !reflect.DeepEqual(got.Tags, []string{"x", "y"}) {
		t.Errorf("after Update: title %q, tags %q, notes %q", got.Title, got.Tags, got.Notes)
	}
	none := []string{}
	if got, err = s.Update(ctx, "", one.Code, linkstore.Update{Tags: &none}); err != nil || got.Tags != nil || got.Title != "new" {
		t.Errorf("clearing the tags: %+v, %v", got, err)
	}
	if got := ReadLink(t, s, "", NewLinkCode(t, s)); got.Title != "" || got.Tags != nil || got.Notes != "" {
		t.Errorf("a link without them reads title %q, tags %q, notes %q", got.Title, got.Tags, got.Notes)
	}
}

// NewLinkCode creates a fresh plain link and returns its code.
func NewLinkCode(t *testing.T, s linkstore.Store) string {
	t.Helper()
	l := NewLink()
	if err := s.Create(t.Context(), l); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return l.Code
}

// testOrganizeInvalid: every store refuses the same titles, tags and
// notes, with errors that wrap ErrInvalidLink and name the field.
func testOrganizeInvalid(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	tooMany := make([]string, 21)
	for i := range tooMany {
		tooMany[i] = "t" + strings.Repeat("x", i)
	}
	tests := []struct {
		name, field string
		set         func(l *linkstore.Link)
	}{
		{"21 tags", "tags", func(l *linkstore.Link) { l.Tags = tooMany }},
		{"a 65-character tag", "tags[1]", func(l *linkstore.Link) { l.Tags = []string{"ok", strings.Repeat("é", 65)} }},
		{"an empty tag", "tags[0]", func(l *linkstore.Link) { l.Tags = []string{"  "} }},
		{"a tag with a newline", "tags[0]", func(l *linkstore.Link) { l.Tags = []string{"a\nb"} }},
		{"a 501-character title", "title", func(l *linkstore.Link) { l.Title = strings.Repeat("é", 501) }},
		{"notes of 10,001 characters", "notes", func(l *linkstore.Link) { l.Notes = strings.Repeat("n", 10_001) }},
		{"a NUL in the notes", "notes", func(l *linkstore.Link) { l.Notes = "a\x00b" }},
	}
	code := NewLinkCode(t, s)
	for _, tt := range tests {
		l := NewLink()
		tt.set(&l)
		err := s.Create(ctx, l)
		if !errors.Is(err, linkstore.ErrInvalidLink) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Create with %s: %v, want ErrInvalidLink naming %s", tt.name, err, tt.field)
		}
		if errs := s.CreateMany(ctx, []linkstore.Link{l}); !errors.Is(errs[0], linkstore.ErrInvalidLink) {
			t.Errorf("CreateMany with %s: %v", tt.name, errs[0])
		}
		u := linkstore.Update{Title: &l.Title, Notes: &l.Notes, Tags: &l.Tags}
		if _, err := s.Update(ctx, "", code, u); !errors.Is(err, linkstore.ErrInvalidLink) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Update with %s: %v, want ErrInvalidLink naming %s", tt.name, err, tt.field)
		}
	}
	twenty := append(tooMany[:19:19], "T"+strings.Repeat("x", 0)) // 21 given, 20 once deduplicated
	twenty = append(twenty, "t")
	l := NewLink()
	l.Tags = twenty
	if err := s.Create(ctx, l); err != nil {
		t.Errorf("21 tags that are 20 ignoring case: %v", err)
	}
}

// testListTagsAndQuery: the tag filter keeps links that have every tag
// (ignoring case); the search matches substrings of code, URL, title and
// tags (ignoring case), not notes; both combine with the other filters
// and the cursor.
func testListTagsAndQuery(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws, other := NewWorkspace(), NewWorkspace()
	mk := func(ws int64, title, notes string, tags ...string) linkstore.Link {
		l := NewLink()
		l.WorkspaceID, l.Title, l.Notes, l.Tags = ws, title, notes, tags
		l.URL = "https://shop.example.org/" + strings.ToLower(l.Code)
		return l
	}
	links := []linkstore.Link{
		mk(ws, "Spring Sale", "", "Launch", "q3"),
		mk(ws, "Autumn 100% off_", "secret note", "launch"),
		mk(ws, "", "", "Q3"),
		mk(ws, "Ünïcode Title", ""),
		mk(other, "Spring Sale", "", "launch", "q3"),
	}
	base := NewWorkspace() // a random ID range of its own
	for i := range links {
		links[i].ID = base + int64(i) // ascending: later is newer
		if err := s.Create(ctx, links[i]); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	c := func(is ...int) []string {
		out := []string{}
		for _, i := range slices.Backward(is) {
			out = append(out, links[i].Code)
		}
		return out
	}
	tests := []struct {
		name string
		q    linkstore.ListQuery
		want []string
	}{
		{"one tag", linkstore.ListQuery{Tags: []string{"LAUNCH"}}, c(0, 1)},
		{"two tags", linkstore.ListQuery{Tags: []string{"launch", "Q3"}}, c(0)},
		{"tag given twice", linkstore.ListQuery{Tags: []string{"q3", "Q3 "}}, c(0, 2)},
		{"unknown tag", linkstore.ListQuery{Tags: []string{"nope"}}, c()},
		{"title", linkstore.ListQuery{Query: "SPRING"}, c(0)},
		{"unicode title", linkstore.ListQuery{Query: "nïcode TITLE"}, c(3)},
		{"non-ASCII letters keep their case", linkstore.ListQuery{Query: "üNÏ"}, c()},
		{"wildcards are literal", linkstore.ListQuery{Query: "100% off_"}, c(1)},
		{"a percent, a space", linkstore.ListQuery{Query: "% o"}, c(1)},
		{"tag text", linkstore.ListQuery{Query: "aunc"}, c(0, 1)},
		{"url", linkstore.ListQuery{Query: "shop.example.org"}, c(0, 1, 2, 3)},
		{"code", linkstore.ListQuery{Query: strings.ToUpper(links[2].Code)}, c(2)},
		{"notes are not searched", linkstore.ListQuery{Query: "secret"}, c()},
		{"tag and query", linkstore.ListQuery{Tags: []string{"q3"}, Query: "sale"}, c(0)},
		{"cursor", linkstore.ListQuery{Query: "shop.example.org", Before: links[2].ID}, c(0, 1)},
		{"limit", linkstore.ListQuery{Query: "shop.example.org", Limit: 1}, c(3)},
		{"sort created", linkstore.ListQuery{Tags: []string{"launch"}, Sort: "created"}, c(0, 1)},
	}
	for _, tt := range tests {
		tt.q.WorkspaceID = ws
		if got := listCodes(t, s, tt.q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, q := range []linkstore.ListQuery{
		{Sort: "views"}, {Tags: []string{strings.Repeat("x", 65)}}, {Query: strings.Repeat("q", 201)}, {Query: "ab"},
	} {
		if _, err := s.List(ctx, q); err == nil {
			t.Errorf("List(%+v) accepted", q)
		}
	}
}

// testTagsRenameDelete: Tags counts the workspace's tags ignoring case;
// RenameTag and DeleteTag change its live links alone, merging a rename
// into a tag the link has.
func testTagsRenameDelete(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws, other := NewWorkspace(), NewWorkspace()
	mk := func(ws int64, tags ...string) linkstore.Link {
		l := NewLink()
		l.WorkspaceID, l.Tags = ws, tags
		if err := s.Create(ctx, l); err != nil {
			t.Fatalf("Create: %v", err)
		}
		return l
	}
	a := mk(ws, "Launch", "q3")
	b := mk(ws, "launch", "Promo")
	mk(ws)
	gone := mk(ws, "launch", "old")
	if _, err := s.Delete(ctx, "", gone.Code); err != nil {
		t.Fatal(err)
	}
	o := mk(other, "launch")
	tags := func(ws int64) []linkstore.TagCount {
		tc, err := s.Tags(ctx, ws)
		if err != nil {
			t.Fatalf("Tags: %v", err)
		}
		return tc
	}
	if got, want := tags(ws), []linkstore.TagCount{{Tag: "Launch", Links: 2}, {Tag: "Promo", Links: 1}, {Tag: "q3", Links: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tags = %v, want %v", got, want)
	}
	if got := tags(NewWorkspace()); got == nil || len(got) != 0 {
		t.Errorf("Tags of an empty workspace = %#v, want empty", got)
	}
	if n, err := s.RenameTag(ctx, ws, "LAUNCH", "promo"); err != nil || n != 2 {
		t.Fatalf("RenameTag = %d, %v; want 2 links", n, err)
	}
	if got := ReadLink(t, s, "", a.Code).Tags; !reflect.DeepEqual(got, []string{"promo", "q3"}) {
		t.Errorf("renamed tags %q", got)
	}
	if got := ReadLink(t, s, "", b.Code).Tags; !reflect.DeepEqual(got, []string{"promo"}) {
		t.Errorf("renamed into an existing tag: %q, want it once, as spelled first", got)
	}
	if got := ReadLink(t, s, "", o.Code).Tags; !reflect.DeepEqual(got, []string{"launch"}) {
		t.Errorf("another workspace's link changed: %q", got)
	}
	if n, err := s.DeleteTag(ctx, ws, "Promo"); err != nil || n != 2 {
		t.Fatalf("DeleteTag = %d, %v; want 2 links", n, err)
	}
	if got := ReadLink(t, s, "", b.Code).Tags; got != nil {
		t.Errorf("tags after deleting the last: %q, want none", got)
	}
	if got, want := tags(ws), []linkstore.TagCount{{Tag: "q3", Links: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tags after = %v, want %v", got, want)
	}
	if n, err := s.DeleteTag(ctx, ws, "nope"); err != nil || n != 0 {
		t.Errorf("DeleteTag of an unknown tag = %d, %v", n, err)
	}
	for _, name := range []string{"", strings.Repeat("x", 65), "a\tb"} {
		if _, err := s.RenameTag(ctx, ws, "q3", name); !errors.Is(err, linkstore.ErrInvalidLink) && name != "" {
			t.Errorf("RenameTag to %q: %v, want ErrInvalidLink", name, err)
		}
	}
}
