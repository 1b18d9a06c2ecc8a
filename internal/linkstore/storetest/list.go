package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// NewHost returns a lower-case host name that no other test uses.
func NewHost() string {
	return strings.ToLower(NewCode()) + ".example"
}

// idBase returns the first of a range of 1<<20 IDs that no other test
// uses: random, and above the Snowflake IDs of this century (below 2^62),
// so that a List bounded to it sees only the test's links.
func idBase() int64 {
	return 1<<62 + rand.Int64N(1<<62-1<<21)
}

// createLinks stores links with CreateMany, failing the test on any error.
func createLinks(t *testing.T, s linkstore.Store, links []linkstore.Link) {
	t.Helper()
	for i, err := range s.CreateMany(t.Context(), links) {
		if err != nil {
			t.Fatalf("CreateMany, link %d (%q): %v", i, links[i].Code, err)
		}
	}
}

// newest returns links sorted by ID, highest first: List's order.
func newest(links []linkstore.Link) []linkstore.Link {
	out := slices.Clone(links)
	slices.SortFunc(out, func(a, b linkstore.Link) int { return -cmpInt(a.ID, b.ID) })
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// codes returns the links' codes, in order.
func codes(links []linkstore.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.Code
	}
	return out
}

// listCodes lists q and returns the codes, failing the test on an error.
func listCodes(t *testing.T, s linkstore.Store, q linkstore.ListQuery) []string {
	t.Helper()
	links, err := s.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return codes(links)
}

// checkList lists q and checks that it returns exactly want, in order,
// every field.
func checkList(t *testing.T, s linkstore.Store, q linkstore.ListQuery, want []linkstore.Link) {
	t.Helper()
	got, err := s.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	if !slices.Equal(codes(got), codes(want)) {
		t.Errorf("List(%+v):\n got  %q\n want %q", q, codes(got), codes(want))
		return
	}
	for i := range got {
		CheckLink(t, "List", got[i], want[i])
	}
}

// testListOrder: newest (highest ID) first, whatever the order of
// creation, with every field as stored.
func testListOrder(t *testing.T, s linkstore.Store) {
	prefix := NewCode()
	base := idBase()
	links := make([]linkstore.Link, 12)
	for i, off := range rand.Perm(len(links)) {
		links[i] = NewLink()
		links[i].Code = prefixedCode(prefix, i)
		links[i].ID = base + int64(off)*1000
	}
	links[0].Status = 308
	links[1].ExpiresAt = links[1].CreatedAt.Add(time.Hour)
	links[2].Disabled = true
	createLinks(t, s, links[:6])
	for _, l := range links[6:] {
		if err := s.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	want := newest(links)
	checkList(t, s, linkstore.ListQuery{Prefix: prefix}, want)
	checkList(t, s, linkstore.ListQuery{MinID: base, MaxID: base + 1<<20}, want)

	// Without filters, the shared database's newest links, in order.
	got, err := s.List(t.Context(), linkstore.ListQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) > 50 {
		t.Errorf("List(limit 50) returned %d links", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b linkstore.Link) int { return -cmpInt(a.ID, b.ID) }) {
		t.Errorf("List without filters is not newest first")
	}
}

// testListPagination: following the cursor page by page returns every
// link once, in order, with a short last page and then an empty one; for
// each kind of filter.
func testListPagination(t *testing.T, s linkstore.Store) {
	prefix, host := NewCode(), NewHost()
	base := idBase()
	const n, pageSize = 23, 5
	links := make([]linkstore.Link, n)
	for i, off := range rand.Perm(n) {
		links[i] = NewLink()
		links[i].Code = prefixedCode(prefix, i)
		links[i].ID = base + int64(off)
		links[i].URL = "https://" + host + "/" + links[i].Code
		if i%3 == 0 {
			links[i].URL = "https://s" + NewCode()[:2] + "." + host + "/" + links[i].Code
		}
	}
	createLinks(t, s, links)
	want := codes(newest(links))

	for _, q := range []linkstore.ListQuery{
		{Prefix: prefix},
		{Host: host},
		{MinID: base, MaxID: base + n - 1},
		{Prefix: prefix, Host: host, MinID: base},
	} {
		q.Limit = pageSize
		var all []string
		for page := 0; ; page++ {
			got, err := s.List(t.Context(), q)
			if err != nil {
				t.Fatalf("List(%+v): %v", q, err)
			}
			if len(got) > pageSize {
				t.Fatalf("page %d of %+v: %d links, more than the limit", page, q, len(got))
			}
			all = append(all, codes(got)...)
			if len(got) < pageSize {
				if page != n/pageSize || len(got) != n%pageSize {
					t.Errorf("%+v: short page %d of %d links, want page %d of %d", q, page, len(got), n/pageSize, n%pageSize)
				}
				break
			}
			q.Before = got[len(got)-1].ID
		}
		if !slices.Equal(all, want) {
			t.Errorf("pages of %+v:\n got  %q\n want %q", q, all, want)
		}
	}
}

// testListPrefix: case-sensitive, byte order, no pattern characters.
func testListPrefix(t *testing.T, s linkstore.Store) {
	p := NewCode()
	mk := func(code string) linkstore.Link {
		l := NewLink()
		l.Code = code
		return l
	}
	exact := mk(p)
	under := mk(p + "_x")
	percent := mk(p + "%y")
	upper := mk(p + "Ab")
	lower := mk(p + "ab")
	yUml := mk(p + "ÿz")    // U+00FF
	aMacron := mk(p + "Āz") // U+0100: the next code point
	top := mk(p + "\U0010FFFF")
	// Just outside: the prefix with its last character changed.
	last := p[len(p)-1]
	outside := mk(p[:len(p)-1] + string(last+1))
	before := mk(p[:len(p)-1] + string(last-1) + "zz")
	all := []linkstore.Link{exact, under, percent, upper, lower, yUml, aMacron, top, outside, before}
	createLinks(t, s, all)

	tests := []struct {
		prefix string
		want   []linkstore.Link
	}{
		{p, []linkstore.Link{exact, under, percent, upper, lower, yUml, aMacron, top}},
		{p + "_", []linkstore.Link{under}},
		{p + "%", []linkstore.Link{percent}},
		{p + "A", []linkstore.Link{upper}},
		{p + "a", []linkstore.Link{lower}},
		{p + "ÿ", []linkstore.Link{yUml}},
		{p + "Ā", []linkstore.Link{aMacron}},
		{p + "\U0010FFFF", []linkstore.Link{top}},
		{p + "ab", []linkstore.Link{lower}},
		{p + "abc", nil},
	}
	for _, tt := range tests {
		checkList(t, s, linkstore.ListQuery{Prefix: tt.prefix}, newest(tt.want))
	}
}

// testListHost: the host and its subdomains, whatever the URL's case,
// port or user; not a host that merely ends with the same letters.
func testListHost(t *testing.T, s linkstore.Store) {
	h := NewHost()
	mk := func(url string) linkstore.Link {
		l := NewLink()
		l.URL = url
		return l
	}
	plain := mk("https://" + h + "/a")
	shouted := mk("HTTPS://" + strings.ToUpper(h) + ":8443/b?c=d#e")
	user := mk("http://user:pw@" + h + "./f")
	sub := mk("https://sub." + h + "/g")
	deep := mk("https://a.b.sub." + h)
	dashed := mk("https://x-" + h + "/no")    // ends with h, another domain
	glued := mk("https://x" + h + "/no")      // likewise
	suffixed := mk("https://" + h + ".evil/") // starts with h
	inPath := mk("https://example.net/" + h)
	created := []linkstore.Link{plain, shouted, user, sub, deep, dashed, glued, suffixed, inPath}
	createLinks(t, s, created[:4])
	for _, l := range created[4:] {
		if err := s.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}

	checkList(t, s, linkstore.ListQuery{Host: h}, newest([]linkstore.Link{plain, shouted, user, sub, deep}))
	checkList(t, s, linkstore.ListQuery{Host: strings.ToUpper(h) + "."}, newest([]linkstore.Link{plain, shouted, user, sub, deep}))
	checkList(t, s, linkstore.ListQuery{Host: "sub." + h}, newest([]linkstore.Link{sub, deep}))
	checkList(t, s, linkstore.ListQuery{Host: "b.sub." + h}, []linkstore.Link{deep})
	checkList(t, s, linkstore.ListQuery{Host: "x-" + h}, []linkstore.Link{dashed})
	checkList(t, s, linkstore.ListQuery{Host: h + ".evil"}, []linkstore.Link{suffixed})
	checkList(t, s, linkstore.ListQuery{Host: "other." + h}, nil)
}

// testListIDRange: MinID and MaxID are inclusive; with the cursor, the
// tighter bound wins.
func testListIDRange(t *testing.T, s linkstore.Store) {
	base := idBase()
	links := make([]linkstore.Link, 10)
	for i := range links {
		links[i] = NewLink()
		links[i].ID = base + int64(i)
	}
	createLinks(t, s, links)
	id := func(i int) int64 { return base + int64(i) }
	sel := func(from, to int) []linkstore.Link { return newest(links[from : to+1]) }

	checkList(t, s, linkstore.ListQuery{MinID: id(3), MaxID: id(6)}, sel(3, 6))
	checkList(t, s, linkstore.ListQuery{MinID: id(9), MaxID: id(9)}, sel(9, 9))
	checkList(t, s, linkstore.ListQuery{MinID: id(6), MaxID: id(3)}, nil)
	checkList(t, s, linkstore.ListQuery{MinID: id(3), MaxID: id(6), Before: id(5)}, sel(3, 4))
	checkList(t, s, linkstore.ListQuery{MinID: id(3), MaxID: id(6), Before: id(9)}, sel(3, 6))
	checkList(t, s, linkstore.ListQuery{MinID: id(3), MaxID: id(6), Before: id(3)}, nil)
	checkList(t, s, linkstore.ListQuery{MinID: id(0), MaxID: id(9), Limit: 3}, sel(7, 9))
}

// testListCombined: every filter at once keeps only the links that pass
// all of them.
func testListCombined(t *testing.T, s linkstore.Store) {
	prefix, host := NewCode(), NewHost()
	base := idBase()
	var all, want []linkstore.Link
	for i := range 40 {
		l := NewLink()
		l.ID = base + int64(i)
		inPrefix, inHost := i%2 == 0, i%3 != 0
		if inPrefix {
			l.Code = prefixedCode(prefix, i)
		}
		if inHost {
			l.URL = "https://w" + NewCode()[:1] + "." + host + "/"
			if i%4 == 0 {
				l.URL = "https://" + host + "/"
			}
		}
		all = append(all, l)
		if inPrefix && inHost && i >= 5 && i <= 30 && i < 28 {
			want = append(want, l)
		}
	}
	createLinks(t, s, all)
	want = newest(want)
	q := linkstore.ListQuery{Prefix: prefix, Host: host, MinID: base + 5, MaxID: base + 30, Before: base + 28}
	checkList(t, s, q, want)
	q.Limit = 3
	checkList(t, s, q, want[:3])
	q.Before = want[2].ID
	checkList(t, s, q, want[3:6])
}

// testListLimit: 0 means 100, 1000 is the most, and out-of-range values
// and negative bounds are refused.
func testListLimit(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	prefix := NewCode()
	links := make([]linkstore.Link, 101)
	for i := range links {
		links[i] = NewLink()
		links[i].Code = prefix + NewCode()
	}
	createLinks(t, s, links)
	for _, tt := range []struct{ limit, want int }{{0, 100}, {1, 1}, {100, 100}, {1000, 101}} {
		got := listCodes(t, s, linkstore.ListQuery{Prefix: prefix, Limit: tt.limit})
		if len(got) != tt.want {
			t.Errorf("List(limit %d): %d links, want %d", tt.limit, len(got), tt.want)
		}
	}
	for _, q := range []linkstore.ListQuery{
		{Limit: -1}, {Limit: 1001}, {Before: -1}, {MinID: -5}, {MaxID: -5},
	} {
		if _, err := s.List(ctx, q); err == nil {
			t.Errorf("List(%+v) succeeded, want an error", q)
		}
	}
	ctxC, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.List(ctxC, linkstore.ListQuery{Prefix: prefix}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: got %v, want context.Canceled", err)
	}
}

// prefixedCode is the i-th code under prefix: a random part, so that the
// codes do not sort as the links were made, then i, so that no two codes
// of one test collide (three random characters alone did, about once in a
// thousand runs).
func prefixedCode(prefix string, i int) string {
	return prefix + NewCode()[:3] + strconv.Itoa(i)
}
