package api_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore"
)

// TestListByClicks: on both stores, every link shows clicks and
// clicks_humans (0 for a new one), and GET /api/v1/links?sort=clicks lists
// the most clicked first, ties newest first, in pages whose cursors
// (clicks and ID) visit each link once; it combines with the tag filter.
func TestListByClicks(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			e := newEnv(t, store, api.Config{})
			clicks := []int64{4, 0, 9, 4, 4, 1}
			var links []api.Link
			var totals []linkstore.ClickTotal
			for i, c := range clicks {
				body := `{"url":"https://example.com/by-clicks"}`
				if i%2 == 0 {
					body = `{"url":"https://example.com/by-clicks","tags":["even"]}`
				}
				w := e.do(t, "POST", "/api/v1/links", "application/json", body)
				l := decode[api.Link](t, w)
				if w.Code != http.StatusCreated || l.Clicks != 0 || l.ClicksHumans != 0 {
					t.Fatalf("create: %d %+v", w.Code, l)
				}
				links = append(links, l)
				totals = append(totals, linkstore.ClickTotal{LinkID: parseID(t, l.ID), Code: l.Code, Clicks: c, Humans: c / 2})
			}
			if _, err := store.SetClicks(t.Context(), totals); err != nil {
				t.Fatal(err)
			}
			order := []int{2, 4, 3, 0, 5, 1} // by clicks, then newest first
			var want, wantEven []string
			for _, i := range order {
				want = append(want, links[i].Code)
				if i%2 == 0 {
					wantEven = append(wantEven, links[i].Code)
				}
			}
			list := func(query string) []string {
				t.Helper()
				var got []string
				cursor := ""
				for range 10 {
					w := e.do(t, "GET", "/api/v1/links?"+query+cursor, "", "")
					if w.Code != http.StatusOK {
						t.Fatalf("list ?%s%s: %d %s", query, cursor, w.Code, w.Body.String())
					}
					page := decode[api.LinkPage](t, w)
					for _, l := range page.Links {
						got = append(got, l.Code)
						if l.Code == links[2].Code && (l.Clicks != 9 || l.ClicksHumans != 4) {
							t.Errorf("the most clicked link shows %d clicks, %d humans", l.Clicks, l.ClicksHumans)
						}
					}
					if page.NextCursor == "" {
						return got
					}
					cursor = "&cursor=" + page.NextCursor
				}
				t.Fatal("more than 10 pages")
				return nil
			}
			if got := list("sort=clicks&limit=2"); !slices.Equal(got, want) {
				t.Errorf("by clicks in pages of 2: %q, want %q", got, want)
			}
			if got := list("sort=clicks&tag=EVEN&limit=1"); !slices.Equal(got, wantEven) {
				t.Errorf("by clicks with a tag, pages of 1: %q, want %q", got, wantEven)
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+links[0].Code, "", "")); got.Clicks != 4 || got.ClicksHumans != 2 {
				t.Errorf("GET shows %d clicks, %d humans", got.Clicks, got.ClicksHumans)
			}
		})
	}
}

// parseID is a link's API ID as a number.
func parseID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("link ID %q: %v", id, err)
	}
	return n
}
