package client_test

import (
	"testing"

	"github.com/shortify/shortify/client"
)

// Tags through the client: a link's tags, the list's tag filter and
// search, the workspace's tag counts, renaming and deleting a tag.
func TestTags(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	ctx := t.Context()
	for _, r := range []client.CreateLinkRequest{
		{URL: "https://example.com/a", Alias: "tagsa", Title: "Spring launch", Tags: []string{"launch", "ads"}},
		{URL: "https://example.com/b", Alias: "tagsb", Tags: []string{"launch"}, Notes: "for the newsletter"},
	} {
		if _, err := c.CreateLink(ctx, r); err != nil {
			t.Fatalf("create %s: %v", r.Alias, err)
		}
	}
	codes := func(q client.ListLinksQuery) []string {
		t.Helper()
		var got []string
		for l, err := range c.Links(ctx, q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, l.Code)
		}
		return got
	}
	if got := codes(client.ListLinksQuery{Tags: []string{"launch", "ads"}}); len(got) != 1 || got[0] != "tagsa" {
		t.Errorf("tags launch+ads: %v, want [tagsa]", got)
	}
	if got := codes(client.ListLinksQuery{Q: "spring"}); len(got) != 1 || got[0] != "tagsa" {
		t.Errorf("q=spring: %v, want [tagsa]", got)
	}
	l, err := c.GetLink(ctx, "tagsb", "")
	if err != nil || l.Notes != "for the newsletter" || len(l.Tags) != 1 {
		t.Fatalf("get tagsb: %+v, %v", l, err)
	}

	tags, err := c.Tags(ctx)
	if err != nil || len(tags.Tags) != 2 || tags.Tags[0] != (client.TagCount{Tag: "launch", Links: 2}) {
		t.Fatalf("tags: %+v, %v; want launch (2) first", tags, err)
	}
	if ch, err := c.RenameTag(ctx, "launch", "spring"); err != nil || ch.Links != 2 {
		t.Fatalf("rename: %+v, %v", ch, err)
	}
	if got := codes(client.ListLinksQuery{Tags: []string{"spring"}}); len(got) != 2 {
		t.Errorf("after the rename, tag spring: %v, want both links", got)
	}
	if ch, err := c.DeleteTag(ctx, "ads"); err != nil || ch.Links != 1 {
		t.Fatalf("delete: %+v, %v", ch, err)
	}
	title := ""
	if _, err := c.UpdateLink(ctx, "tagsa", "", client.UpdateLinkRequest{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if l, err := c.GetLink(ctx, "tagsa", ""); err != nil || l.Title != "" || len(l.Tags) != 1 || l.Tags[0] != "spring" {
		t.Errorf("tagsa after the delete and clearing the title: %+v, %v", l, err)
	}
}
