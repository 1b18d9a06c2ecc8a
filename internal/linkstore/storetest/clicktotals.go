package storetest

import (
	"slices"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

// testSetClicks: SetClicks writes totals by code and ID (a link of the
// same code on another domain with another ID is left alone), counts
// only real changes, and every owner's read shows them; bad totals are
// refused whole.
func testSetClicks(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	a, b := NewLink(), NewLink()
	other := onDomain(NewDomain(), a.Code)
	other.ID = a.ID + 1
	createLinks(t, s, []linkstore.Link{a, b, other})
	totals := []linkstore.ClickTotal{
		{LinkID: b.ID, Code: b.Code, Clicks: 7, Humans: 5},
		{LinkID: a.ID, Code: a.Code, Clicks: 3, Humans: 3},
		{LinkID: a.ID + 99, Code: NewCode(), Clicks: 1, Humans: 1}, // no such link
	}
	if n, err := s.SetClicks(ctx, totals); err != nil || n != 2 {
		t.Fatalf("SetClicks: %d, %v; want 2 links changed", n, err)
	}
	if n, err := s.SetClicks(ctx, totals); err != nil || n != 0 {
		t.Errorf("SetClicks again: %d, %v; want no change", n, err)
	}
	if got := ReadLink(t, s, "", a.Code); got.Clicks != 3 || got.ClicksHumans != 3 {
		t.Errorf("a: %d clicks, %d humans", got.Clicks, got.ClicksHumans)
	}
	if got := ReadLink(t, s, "", b.Code); got.Clicks != 7 || got.ClicksHumans != 5 {
		t.Errorf("b: %d clicks, %d humans", got.Clicks, got.ClicksHumans)
	}
	if got := ReadLink(t, s, other.Domain, other.Code); got.Clicks != 0 {
		t.Errorf("the same code on another domain got %d clicks", got.Clicks)
	}
	page, err := s.List(ctx, linkstore.ListQuery{Prefix: b.Code})
	if err != nil || len(page) != 1 || page[0].Clicks != 7 || page[0].ClicksHumans != 5 {
		t.Errorf("List shows %+v, %v", page, err)
	}
	for _, bad := range []linkstore.ClickTotal{
		{LinkID: a.ID, Code: a.Code, Clicks: -1},
		{LinkID: a.ID, Code: a.Code, Clicks: 1, Humans: 2},
		{LinkID: a.ID, Code: "", Clicks: 1},
	} {
		if _, err := s.SetClicks(ctx, []linkstore.ClickTotal{{LinkID: b.ID, Code: b.Code, Clicks: 100}, bad}); err == nil {
			t.Errorf("SetClicks took %+v", bad)
		}
	}
	if got := ReadLink(t, s, "", b.Code); got.Clicks != 7 {
		t.Errorf("a refused SetClicks changed b to %d clicks", got.Clicks)
	}
	if n, err := s.SetClicks(ctx, nil); err != nil || n != 0 {
		t.Errorf("SetClicks of none: %d, %v", n, err)
	}
}

// testListByClicks: sorted by clicks, a workspace's links come most
// clicked first, ties newest first; paging by the (clicks, ID) cursor
// visits each once, through ties that straddle pages; the order combines
// with the tag filter and the search.
func testListByClicks(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws := NewWorkspace()
	base := idBase()
	clicks := []int64{5, 0, 9, 5, 5, 0, 12, 5, 1, 9}
	var links []linkstore.Link
	var totals []linkstore.ClickTotal
	for i, c := range clicks {
		l := NewLink()
		l.ID, l.WorkspaceID = base+int64(i*7%len(clicks)), ws
		if i%2 == 0 {
			l.Tags = []string{"even"}
		}
		links = append(links, l)
		totals = append(totals, linkstore.ClickTotal{LinkID: l.ID, Code: l.Code, Clicks: c, Humans: c / 2})
		links[i].Clicks = c
	}
	createLinks(t, s, links)
	if _, err := s.SetClicks(ctx, totals); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(links)
	slices.SortFunc(want, func(a, b linkstore.Link) int {
		if a.Clicks != b.Clicks {
			return cmpInt(b.Clicks, a.Clicks)
		}
		return cmpInt(b.ID, a.ID)
	})
	for _, limit := range []int{1, 3, 4, 100} {
		var got []linkstore.Link
		q := linkstore.ListQuery{WorkspaceID: ws, Sort: linkstore.SortClicks, Limit: limit}
		for range len(links) + 2 {
			page, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			q.Before, q.BeforeClicks = last.ID, last.Clicks
		}
		if g, w := codes(got), codes(want); !slices.Equal(g, w) {
			t.Errorf("pages of %d: %q, want %q", limit, g, w)
		}
	}
	var even []linkstore.Link
	for _, l := range want {
		if len(l.Tags) > 0 {
			even = append(even, l)
		}
	}
	page, err := s.List(ctx, linkstore.ListQuery{WorkspaceID: ws, Sort: linkstore.SortClicks, Tags: []string{"EVEN"}, Query: "example.com"})
	if g, w := codes(page), codes(even); err != nil || !slices.Equal(g, w) {
		t.Errorf("by clicks with a tag and a search: %q, %v; want %q", g, err, w)
	}
	if _, err := s.List(ctx, linkstore.ListQuery{Sort: linkstore.SortClicks, Before: 1, BeforeClicks: -1}); err == nil {
		t.Error("a negative cursor clicks was taken")
	}
}
