package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
)

// TestExternalID: on both stores, an external_id is taken by create, bulk
// and PATCH, shown by every answer and filters the list; one that the
// workspace has already is a 409 naming the existing link (code and
// domain members; in a bulk, the existing link in the item's result), so
// that a second import creates nothing; a bad one is a 400 naming
// external_id that changes nothing.
func TestExternalID(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t), api.Config{})
			w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/one","external_id":"bitly:Ab3"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			one := decode[api.Link](t, w)
			if one.ExternalID != "bitly:Ab3" {
				t.Errorf("create shows external_id %q", one.ExternalID)
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+one.Code, "", "")); got.ExternalID != "bitly:Ab3" {
				t.Errorf("GET shows external_id %q", got.ExternalID)
			}

			w = e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/again","external_id":"bitly:Ab3","alias":"again-1"}`)
			p := decode[problem.Details](t, w)
			if w.Code != http.StatusConflict || p.Field != "external_id" || p.Code != one.Code || p.Domain != "" {
				t.Errorf("create with a taken external_id: %d %+v, want 409 naming %s", w.Code, p, one.Code)
			}
			if w := e.do(t, "GET", "/api/v1/links/again-1", "", ""); w.Code != http.StatusNotFound {
				t.Errorf("the refused link exists: %d", w.Code)
			}

			bulk := func() []api.BulkResult {
				t.Helper()
				w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[
					{"url":"https://example.com/one","external_id":"bitly:Ab3"},
					{"url":"https://example.com/two","external_id":"bitly:Cd4"},
					{"url":"https://example.com/two-again","external_id":"bitly:Cd4"}]}`)
				if w.Code != http.StatusOK {
					t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
				}
				return decode[api.BulkResponse](t, w).Results
			}
			res := bulk()
			if r := res[0]; r.Status != http.StatusConflict || r.Error == nil || r.Error.Field != "external_id" ||
				r.Error.Code != one.Code || r.Link == nil || r.Link.Code != one.Code || r.Link.ExternalID != "bitly:Ab3" {
				t.Errorf("bulk item with a taken external_id: %+v (link %+v), want 409 with the existing link", r.Error, r.Link)
			}
			if r := res[1]; r.Status != http.StatusCreated || r.Link.ExternalID != "bitly:Cd4" {
				t.Fatalf("bulk item with a new external_id: %+v", r)
			}
			two := res[1].Link.Code
			if r := res[2]; r.Status != http.StatusConflict || r.Error.Field != "external_id" || !strings.Contains(r.Error.Detail, "link 1 of this request") {
				t.Errorf("bulk item repeating an external_id of the request: %+v", r.Error)
			}
			// A second run (an importer's) creates nothing and finds both.
			for i, r := range bulk()[:2] {
				if want := []string{one.Code, two}[i]; r.Status != http.StatusConflict || r.Link == nil || r.Link.Code != want {
					t.Errorf("second run, item %d: %d %+v, want 409 with link %s", i, r.Status, r.Link, want)
				}
			}

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
			if got := list("external_id=" + url.QueryEscape("bitly:Cd4")); len(got) != 1 || got[0] != two {
				t.Errorf("?external_id=bitly:Cd4 lists %q, want %s", got, two)
			}
			if got := list("external_id=BITLY:CD4"); len(got) != 0 {
				t.Errorf("the filter is exact, but ?external_id=BITLY:CD4 lists %q", got)
			}

			w = e.do(t, "PATCH", "/api/v1/links/"+two, "application/json", `{"external_id":"bitly:Ab3"}`)
			if p := decode[problem.Details](t, w); w.Code != http.StatusConflict || p.Code != one.Code {
				t.Errorf("PATCH to a taken external_id: %d %+v", w.Code, p)
			}
			w = e.do(t, "PATCH", "/api/v1/links/"+one.Code, "application/json", `{"external_id":""}`)
			if got := decode[api.Link](t, w); w.Code != http.StatusOK || got.ExternalID != "" {
				t.Errorf("PATCH clearing the external_id: %d %+v", w.Code, got)
			}
			w = e.do(t, "PATCH", "/api/v1/links/"+two, "application/json", `{"external_id":"bitly:Ab3"}`)
			if got := decode[api.Link](t, w); w.Code != http.StatusOK || got.ExternalID != "bitly:Ab3" {
				t.Errorf("PATCH to a freed external_id: %d %+v", w.Code, got)
			}

			long := strings.Repeat("x", 256)
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/api/v1/links", `{"url":"https://example.com/bad","external_id":"` + long + `"}`},
				{"POST", "/api/v1/links", `{"url":"https://example.com/bad","external_id":"tab\there"}`},
				{"PATCH", "/api/v1/links/" + two, `{"external_id":"line\nbreak"}`},
				{"GET", "/api/v1/links?external_id=" + long, ""},
				{"GET", "/api/v1/links?external_id=%01", ""},
			} {
				w := e.do(t, c.method, c.path, "application/json", c.body)
				if p := decode[problem.Details](t, w); w.Code != http.StatusBadRequest || p.Field != "external_id" {
					t.Errorf("%s %.40s %.60s: %d %+v, want 400 naming external_id", c.method, c.path, c.body, w.Code, p)
				}
			}
			w = e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[{"url":"https://example.com/b","external_id":"`+long+`"}]}`)
			if r := decode[api.BulkResponse](t, w).Results; r[0].Status != http.StatusBadRequest || r[0].Error.Field != "external_id" {
				t.Errorf("bulk item with a bad external_id: %+v", r[0])
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+two, "", "")); got.ExternalID != "bitly:Ab3" {
				t.Errorf("a refused PATCH changed the external_id to %q", got.ExternalID)
			}
		})
	}
}
