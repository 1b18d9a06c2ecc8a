package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
)

// TestOrganizeFields: on both stores, title, tags and notes are taken by
// create, bulk and PATCH (tags cleaned, a PATCH replacing or clearing
// them), shown by every answer, and filter and search the list.
func TestOrganizeFields(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t), api.Config{})
			w := e.do(t, "POST", "/api/v1/links", "application/json",
				`{"url":"https://example.com/spring","title":"Spring Sale","tags":[" Launch ","launch","Q3"],"notes":"for the newsletter"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			l := decode[api.Link](t, w)
			want := api.OrganizeView{Title: "Spring Sale", Tags: []string{"Launch", "Q3"}, Notes: "for the newsletter"}
			if !reflect.DeepEqual(l.OrganizeView, want) {
				t.Errorf("create shows %+v, want %+v", l.OrganizeView, want)
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+l.Code, "", "")).OrganizeView; !reflect.DeepEqual(got, want) {
				t.Errorf("GET shows %+v, want %+v", got, want)
			}
			w = e.do(t, "POST", "/api/v1/links/bulk", "application/json",
				`{"links":[{"url":"https://example.com/autumn","title":"Autumn","tags":["q3"]},{"url":"https://example.com/plain"}]}`)
			if w.Code != http.StatusOK && w.Code != http.StatusCreated && w.Code != http.StatusMultiStatus {
				t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
			}
			bulk := decode[api.BulkResponse](t, w).Results
			if bulk[0].Link == nil || !reflect.DeepEqual(bulk[0].Link.Tags, []string{"q3"}) || bulk[0].Link.Title != "Autumn" {
				t.Fatalf("bulk result %+v", bulk[0])
			}
			autumn, plain := bulk[0].Link.Code, bulk[1].Link.Code

			list := func(query string) []string {
				t.Helper()
				w := e.do(t, "GET", "/api/v1/links?"+query, "", "")
				if w.Code != http.StatusOK {
					t.Fatalf("list ?%s: %d %s", query, w.Code, w.Body.String())
				}
				var codes []string
				for _, l := range decode[api.LinkPage](t, w).Links {
					codes = append(codes, l.Code)
				}
				return codes
			}
			for _, tt := range []struct {
				query string
				want  []string
			}{
				{"tag=q3", []string{autumn, l.Code}},
				{"tag=Q3&tag=LAUNCH", []string{l.Code}},
				{"q=SALE", []string{l.Code}},
				{"q=example.com%2Fplain", []string{plain}},
				{"q=example.com&tag=q3&sort=created", []string{autumn, l.Code}},
				{"q=newsletter", nil}, // notes are not searched
			} {
				if got := list(tt.query); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("?%s: %q, want %q", tt.query, got, tt.want)
				}
			}

			w = e.do(t, "PATCH", "/api/v1/links/"+l.Code, "application/json", `{"title":"","tags":["new"]}`)
			if got := decode[api.Link](t, w).OrganizeView; w.Code != http.StatusOK ||
				!reflect.DeepEqual(got, api.OrganizeView{Tags: []string{"new"}, Notes: "for the newsletter"}) {
				t.Errorf("PATCH: %d %+v", w.Code, got)
			}
			w = e.do(t, "PATCH", "/api/v1/links/"+l.Code, "application/json", `{"tags":[]}`)
			if got := decode[api.Link](t, w); w.Code != http.StatusOK || got.Tags != nil {
				t.Errorf("PATCH clearing the tags: %d %+v", w.Code, got.OrganizeView)
			}
			if strings.Contains(e.do(t, "GET", "/api/v1/links/"+plain, "", "").Body.String(), `"tags"`) {
				t.Errorf("a link without tags shows a tags field")
			}

			w = e.do(t, "GET", "/api/v1/tags", "", "")
			if got, want := decode[api.TagList](t, w).Tags, []api.TagCount{{Tag: "q3", Links: 1}}; !reflect.DeepEqual(got, want) {
				t.Errorf("tags: %v, want %v", got, want)
			}
			w = e.do(t, "PATCH", "/api/v1/tags/Q3", "application/json", `{"name":"autumn"}`)
			if got := decode[api.TagChange](t, w); w.Code != http.StatusOK || got.Links != 1 {
				t.Errorf("rename: %d %+v", w.Code, got)
			}
			w = e.do(t, "DELETE", "/api/v1/tags/autumn", "", "")
			if got := decode[api.TagChange](t, w); w.Code != http.StatusOK || got.Links != 1 {
				t.Errorf("delete: %d %+v", w.Code, got)
			}
			if got := decode[api.TagList](t, e.do(t, "GET", "/api/v1/tags", "", "")).Tags; len(got) != 0 {
				t.Errorf("tags after: %v", got)
			}
		})
	}
}

// TestOrganizeBadInput: bad titles, tags, notes and list parameters are a
// 400 naming the field, on create, bulk, PATCH, the list and the tags
// routes.
func TestOrganizeBadInput(t *testing.T) {
	e := newEnv(t, openSQLite(t), api.Config{})
	w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/x"}`)
	code := decode[api.Link](t, w).Code
	tags21 := make([]string, 21)
	for i := range tags21 {
		tags21[i] = fmt.Sprintf("%q", fmt.Sprint("t", i))
	}
	long := strings.Repeat("x", 65)
	bodies := []struct{ body, field string }{
		{`"tags":[` + strings.Join(tags21, ",") + `]`, "tags"},
		{`"tags":["ok","` + long + `"]`, "tags[1]"},
		{`"tags":[" "]`, "tags[0]"},
		{`"title":"` + strings.Repeat("é", 501) + `"`, "title"},
		{`"notes":"` + strings.Repeat("n", 10_001) + `"`, "notes"},
	}
	for _, b := range bodies {
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/links", `{"url":"https://example.com/y",` + b.body + `}`},
			{"PATCH", "/api/v1/links/" + code, `{` + b.body + `}`},
		} {
			w := e.do(t, c.method, c.path, "application/json", c.body)
			if p := decode[problem.Details](t, w); w.Code != http.StatusBadRequest || p.Field != b.field {
				t.Errorf("%s %s with %s: %d field %q, want 400 naming %s", c.method, c.path, b.field, w.Code, p.Field, b.field)
			}
		}
		w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[{"url":"https://example.com/z",`+b.body+`}]}`)
		if r := decode[api.BulkResponse](t, w).Results; len(r) != 1 || r[0].Status != http.StatusBadRequest || r[0].Error.Field != b.field {
			t.Errorf("bulk with %s: %s", b.field, w.Body.String())
		}
	}
	for _, tt := range []struct{ query, field string }{
		{"sort=views", "sort"},
		{"sort=newest", "sort"},
		{"sort=clicks&cursor=AAAAAAAAAAAA", "cursor"},
		{"sort=clicks&cursor=", "cursor"},
		{"sort=clicks&cursor=" + strings.Repeat("0", 22) + "1", "cursor"},
		{"cursor=" + strings.Repeat("0", 21) + "11", "cursor"},
		{"tag=" + long, "tag"},
		{"tag=" + url.QueryEscape(" "), "tag"},
		{"q=" + strings.Repeat("q", 201), "q"},
		{"q=a&q=b", "q"},
		{"q=ab", "q"},
	} {
		w := e.do(t, "GET", "/api/v1/links?"+tt.query, "", "")
		if p := decode[problem.Details](t, w); w.Code != http.StatusBadRequest || p.Field != tt.field {
			t.Errorf("?%.40s: %d field %q, want 400 naming %s", tt.query, w.Code, p.Field, tt.field)
		}
	}
	for _, c := range []struct{ method, path, body, field string }{
		{"PATCH", "/api/v1/tags/" + long, `{"name":"x"}`, "tag"},
		{"PATCH", "/api/v1/tags/ok", `{"name":""}`, "name"},
		{"PATCH", "/api/v1/tags/ok", `{"name":"` + long + `"}`, "name"},
		{"DELETE", "/api/v1/tags/" + long, "", "tag"},
	} {
		w := e.do(t, c.method, c.path, "application/json", c.body)
		if p := decode[problem.Details](t, w); w.Code != http.StatusBadRequest || p.Field != c.field {
			t.Errorf("%s %s: %d field %q, want 400 naming %s", c.method, c.path, w.Code, p.Field, c.field)
		}
	}
}
