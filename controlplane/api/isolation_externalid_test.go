package api_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
)

// TestWorkspaceIsolationExternalID: an external_id of workspace B is
// independent of A's: A creates and sets the same one without a
// conflict (so no 409 ever names B's link to A), A's filter never lists
// B's link, and B's link is left as it was.
func TestWorkspaceIsolationExternalID(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newIsoEnv(t, open(t), api.Config{}, api.Deps{})
			w := e.do(t, e.keys["B creator"], "POST", "/api/v1/links", `{"url":"https://example.com/b-ext","external_id":"crm-42"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("B creates: %d %s", w.Code, w.Body.String())
			}
			b := decode[api.Link](t, w)
			before := e.snapshot(t, []api.Link{b})

			if got := e.list(t, e.keys["A viewer"], "&external_id=crm-42"); len(got) != 0 {
				t.Errorf("A lists B's external_id: %+v", got)
			}
			w = e.do(t, e.keys["A creator"], "POST", "/api/v1/links", `{"url":"https://example.com/a-ext","external_id":"crm-42"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("A creates with B's external_id: %d %s, want 201", w.Code, w.Body.String())
			}
			a := decode[api.Link](t, w)
			w = e.do(t, e.keys["A creator"], "POST", "/api/v1/links/bulk", `{"links":[{"url":"https://example.com/a2","external_id":"crm-42"}]}`)
			res := decode[api.BulkResponse](t, w).Results[0]
			if res.Status != http.StatusConflict || res.Link == nil || res.Link.Code != a.Code || res.Error.Code != a.Code {
				t.Errorf("A's bulk repeat names %+v / %+v, want A's own link %s", res.Error, res.Link, a.Code)
			}
			w = e.do(t, e.keys["A creator"], "PATCH", "/api/v1/links/"+b.Code, `{"external_id":"hijack"}`)
			if w.Code != http.StatusNotFound {
				t.Errorf("A PATCHes B's external_id: %d, want 404", w.Code)
			}
			w = e.do(t, e.keys["B creator"], "POST", "/api/v1/links", `{"url":"https://example.com/b-again","external_id":"crm-42"}`)
			if p := decode[problem.Details](t, w); w.Code != http.StatusConflict || p.Code != b.Code {
				t.Errorf("B's repeat: %d %+v, want 409 naming B's own link", w.Code, p)
			}
			if got := e.list(t, e.keys["B viewer"], "&external_id=crm-42"); len(got) != 1 || got[0].Code != b.Code {
				t.Errorf("B lists %+v, want its link alone", got)
			}
			if after := e.snapshot(t, []api.Link{b}); !reflect.DeepEqual(after, before) {
				t.Errorf("B's link changed under A's keys:\n got  %+v\n want %+v", after, before)
			}
		})
	}
}

// TestWorkspaceIsolationBulkAlias: a bulk item refused because workspace
// B's link holds its alias carries no link to A's key (B's link is never
// shown), while B's own key gets its link back; B's link stays as it was.
func TestWorkspaceIsolationBulkAlias(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newIsoEnv(t, open(t), api.Config{}, api.Deps{})
			w := e.do(t, e.keys["B creator"], "POST", "/api/v1/links", `{"url":"https://example.com/b-alias","alias":"b-held"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("B creates: %d %s", w.Code, w.Body.String())
			}
			b := decode[api.Link](t, w)
			before := e.snapshot(t, []api.Link{b})
			body := `{"links":[{"url":"https://example.com/b-alias","alias":"b-held"}]}`
			res := decode[api.BulkResponse](t, e.do(t, e.keys["A creator"], "POST", "/api/v1/links/bulk", body)).Results[0]
			if res.Status != http.StatusConflict || res.Error == nil || res.Error.Field != "alias" || res.Link != nil {
				t.Errorf("A's bulk with B's alias: %d %+v, link %+v; want 409 without B's link", res.Status, res.Error, res.Link)
			}
			res = decode[api.BulkResponse](t, e.do(t, e.keys["B creator"], "POST", "/api/v1/links/bulk", body)).Results[0]
			if res.Status != http.StatusConflict || res.Link == nil || res.Link.Code != b.Code {
				t.Errorf("B's bulk with its own alias: %d, link %+v; want 409 with its link", res.Status, res.Link)
			}
			if after := e.snapshot(t, []api.Link{b}); !reflect.DeepEqual(after, before) {
				t.Errorf("B's link changed under A's keys:\n got  %+v\n want %+v", after, before)
			}
		})
	}
}
