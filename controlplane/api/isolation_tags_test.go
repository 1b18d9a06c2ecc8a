package api_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
)

// tagIsolationRoutes are the tags routes, which isolationMatrix covers
// through TestWorkspaceIsolationTags.
var tagIsolationRoutes = []string{
	"GET /api/v1/tags",
	"PATCH /api/v1/tags/{tag}",
	"DELETE /api/v1/tags/{tag}",
}

// TestWorkspaceIsolationTags: another workspace's key never sees B's tags
// (in GET /api/v1/tags, the tag filter or the search) and never changes
// them (renaming or deleting a tag of the same name touches its own
// links alone); a viewer key may read tags but not change them.
func TestWorkspaceIsolationTags(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newIsoEnv(t, open(t), api.Config{}, api.Deps{})
			create := func(key, body string) api.Link {
				w := e.do(t, key, "POST", "/api/v1/links", body)
				if w.Code != http.StatusCreated {
					t.Fatalf("create %s: %d %s", body, w.Code, w.Body.String())
				}
				return decode[api.Link](t, w)
			}
			a := create(e.keys["A creator"], `{"url":"https://example.com/a-tagged","title":"A's","tags":["shared"]}`)
			b := create(e.keys["B creator"], `{"url":"https://example.com/b-secret","title":"B's secret","tags":["Shared","b-only"],"notes":"n"}`)
			before := e.snapshot(t, []api.Link{b})

			w := e.do(t, e.keys["A viewer"], "GET", "/api/v1/tags", "")
			if got, want := decode[api.TagList](t, w).Tags, []api.TagCount{{Tag: "shared", Links: 1}}; w.Code != http.StatusOK || !reflect.DeepEqual(got, want) {
				t.Errorf("A's tags: %d %v, want %v", w.Code, got, want)
			}
			for _, q := range []string{"?tag=b-only", "?q=b-secret", "?q=b%27s"} {
				w := e.do(t, e.keys["A viewer"], "GET", "/api/v1/links"+q, "")
				if page := decode[api.LinkPage](t, w); w.Code != http.StatusOK || len(page.Links) != 0 {
					t.Errorf("A lists %s: %d %+v, want none of B's", q, w.Code, page.Links)
				}
			}
			for _, c := range []struct{ method, path, body string }{
				{"PATCH", "/api/v1/tags/shared", `{"name":"hijacked"}`},
				{"DELETE", "/api/v1/tags/shared", ""},
			} {
				if w := e.do(t, e.keys["A viewer"], c.method, c.path, c.body); w.Code != http.StatusForbidden {
					t.Errorf("A viewer %s %s: %d, want 403", c.method, c.path, w.Code)
				}
			}
			w = e.do(t, e.keys["A creator"], "PATCH", "/api/v1/tags/SHARED", `{"name":"renamed"}`)
			if got := decode[api.TagChange](t, w); w.Code != http.StatusOK || got.Links != 1 {
				t.Errorf("A renames its tag: %d %+v, want its one link", w.Code, got)
			}
			w = e.do(t, e.keys["A creator"], "DELETE", "/api/v1/tags/b-only", "")
			if got := decode[api.TagChange](t, w); w.Code != http.StatusOK || got.Links != 0 {
				t.Errorf("A deletes B's tag: %d %+v, want no link changed", w.Code, got)
			}
			if after := e.snapshot(t, []api.Link{b}); !reflect.DeepEqual(after, before) {
				t.Errorf("B's link changed under A's keys:\n got  %+v\n want %+v", after, before)
			}
			if got := e.snapshot(t, []api.Link{a})[0].Tags; !reflect.DeepEqual(got, []string{"renamed"}) {
				t.Errorf("A's link's tags %q, want renamed", got)
			}
			w = e.do(t, e.keys["B viewer"], "GET", "/api/v1/tags", "")
			want := []api.TagCount{{Tag: "b-only", Links: 1}, {Tag: "Shared", Links: 1}}
			if got := decode[api.TagList](t, w).Tags; !reflect.DeepEqual(got, want) {
				t.Errorf("B's tags %v, want %v", got, want)
			}
		})
	}
}
