package linkstore_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

func TestCleanTags(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{" a ", "A", "b", "a"}, []string{"a", "b"}},
		{[]string{"Launch", "launch "}, []string{"Launch"}},
		{[]string{"Ünï", "ünï"}, []string{"Ünï", "ünï"}}, // ASCII case alone
		{[]string{" ", ""}, []string{"", ""}},            // kept, for validTags to name
	}
	for _, tt := range tests {
		if got := linkstore.CleanTags(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CleanTags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReplaceTag(t *testing.T) {
	tests := []struct {
		tags      []string
		tag, name string
		want      []string
		changed   bool
	}{
		{[]string{"a", "B"}, "b", "c", []string{"a", "c"}, true},
		{[]string{"a", "B"}, "b", "", []string{"a"}, true},
		{[]string{"a", "B"}, "A", "b", []string{"b"}, true}, // merged: kept once, as spelled first
		{[]string{"a"}, "z", "y", []string{"a"}, false},
		{[]string{"a"}, "a", "", []string{}, true},
	}
	for _, tt := range tests {
		got, changed := linkstore.ReplaceTag(tt.tags, tt.tag, tt.name)
		if changed != tt.changed || (len(got) != 0 || len(tt.want) != 0) && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ReplaceTag(%q, %q, %q) = %q, %v; want %q, %v", tt.tags, tt.tag, tt.name, got, changed, tt.want, tt.changed)
		}
	}
}

func TestFoldASCII(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "AbC-Ü": "abc-Ü", "ÉCOLE": "École"} {
		if got := linkstore.FoldASCII(in); got != want {
			t.Errorf("FoldASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListQueryOrganizeBounds(t *testing.T) {
	tests := []struct {
		q       linkstore.ListQuery
		tags    []string
		query   string
		wantErr bool
	}{
		{q: linkstore.ListQuery{Tags: []string{"A", " a", "B"}, Query: "Spring SALE"}, tags: []string{"a", "b"}, query: "spring sale"},
		{q: linkstore.ListQuery{Sort: "created"}},
		{q: linkstore.ListQuery{Sort: "clicks"}},
		{q: linkstore.ListQuery{Sort: "views"}, wantErr: true},
		{q: linkstore.ListQuery{Sort: "clicks", Before: 5, BeforeClicks: -1}, wantErr: true},
		{q: linkstore.ListQuery{ExternalID: "a\tb"}, wantErr: true},
		{q: linkstore.ListQuery{Tags: []string{""}}, wantErr: true},
		{q: linkstore.ListQuery{Query: "a\x00"}, wantErr: true},
	}
	for _, tt := range tests {
		b, err := tt.q.Bounds()
		if (err != nil) != tt.wantErr {
			t.Errorf("Bounds(%+v): %v", tt.q, err)
			continue
		}
		if err == nil && (!reflect.DeepEqual(b.Tags, tt.tags) || b.Query != tt.query) {
			t.Errorf("Bounds(%+v) = tags %q, query %q; want %q, %q", tt.q, b.Tags, b.Query, tt.tags, tt.query)
		}
	}
}

// TestClickCursorBounds: sorted by clicks, the cursor is kept as (clicks,
// ID), not folded into MaxID; sorted by creation, it is.
func TestClickCursorBounds(t *testing.T) {
	b, err := linkstore.ListQuery{Sort: linkstore.SortClicks, Before: 42, BeforeClicks: 7}.Bounds()
	if err != nil || !b.ByClicks || !b.HasAfter || b.AfterClicks != 7 || b.AfterID != 42 || b.MaxID != math.MaxInt64 {
		t.Errorf("by clicks: %+v, %v", b, err)
	}
	b, err = linkstore.ListQuery{Before: 42}.Bounds()
	if err != nil || b.ByClicks || b.HasAfter || b.MaxID != 41 {
		t.Errorf("by creation: %+v, %v", b, err)
	}
}
