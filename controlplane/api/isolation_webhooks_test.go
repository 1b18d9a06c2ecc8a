package api_test

import (
	"net/http"
	"reflect"
	"strconv"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/webhooks"
)

// webhookIsolationRoutes are the webhooks routes, which isolationMatrix
// covers through TestWorkspaceIsolationWebhooks.
var webhookIsolationRoutes = []string{
	"POST /api/v1/webhooks",
	"GET /api/v1/webhooks",
	"GET /api/v1/webhooks/{id}",
	"PATCH /api/v1/webhooks/{id}",
	"DELETE /api/v1/webhooks/{id}",
	"POST /api/v1/webhooks/{id}/rotate-secret",
	"GET /api/v1/webhooks/{id}/deliveries",
	"POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay",
}

// TestWorkspaceIsolationWebhooks: B's keys, of every role, never see A's
// endpoints or their delivery logs (404 as for none, on every route that
// names one; not in B's list) and never change them (a 403 for the roles
// below admin, a 404 for B's admin), and what B creates lands in B; the
// instance admin acting in B (Shortify-Workspace) is answered alike. A's
// endpoint, secret and log are as they were.
func TestWorkspaceIsolationWebhooks(t *testing.T) {
	for name := range webhookStores {
		t.Run(name, func(t *testing.T) {
			e, hooks := webhookEnv(t, name, api.Config{})
			a := createWebhook(t, e, e.keys["A admin"], `{"url":"https://a.example/hook","events":["link.created","link.clicked"]}`)
			enqueueDeliveries(t, hooks, a, 2)
			if err := hooks.Record(t.Context(), webhooks.Delivery{ID: "msg_0", Endpoint: a.ID}, webhooks.Attempt{Status: 500, Err: "status 500"}); err != nil {
				t.Fatal(err)
			}
			endpointBefore, _ := hooks.Endpoint(t.Context(), wsA, a.ID)
			logBefore, _ := hooks.Deliveries(t.Context(), wsA, webhooks.DeliveryQuery{Endpoint: a.ID})

			reads := []string{
				"/api/v1/webhooks/" + a.ID,
				"/api/v1/webhooks/" + a.ID + "/deliveries",
				"/api/v1/webhooks/" + a.ID + "/deliveries?state=failed",
			}
			callers := []struct {
				name   string
				key    string
				header []string
			}{
				{"B viewer", e.keys["B viewer"], nil},
				{"B creator", e.keys["B creator"], nil},
				{"B admin", e.keys["B admin"], nil},
				{"instance in B", e.keys["instance"], []string{apiauth.WorkspaceHeader, strconv.FormatInt(wsB, 10)}},
			}
			for _, c := range callers {
				for _, p := range reads {
					if w := e.do(t, c.key, "GET", p, "", c.header...); w.Code != http.StatusNotFound {
						t.Errorf("%s GET %s: %d %s, want 404", c.name, p, w.Code, w.Body)
					}
				}
				w := e.do(t, c.key, "GET", "/api/v1/webhooks", "", c.header...)
				if l := decode[api.WebhookList](t, w); w.Code != http.StatusOK || len(l.Webhooks) != 0 {
					t.Errorf("%s lists %d %+v, want none of A's", c.name, w.Code, l)
				}
				want := http.StatusNotFound
				if c.name == "B viewer" || c.name == "B creator" {
					want = http.StatusForbidden
				}
				for _, wr := range webhookWrites(a.ID, "msg_0") {
					if wr.method == "POST" && wr.path == "/api/v1/webhooks" {
						continue
					}
					if w := e.do(t, c.key, wr.method, wr.path, wr.body, c.header...); w.Code != want {
						t.Errorf("%s %s %s: %d %s, want %d", c.name, wr.method, wr.path, w.Code, w.Body, want)
					}
				}
			}
			// B's own endpoint is B's: A does not see it.
			b := createWebhook(t, e, e.keys["B admin"], `{"url":"https://b.example/hook","events":["link.deleted"]}`)
			if _, err := hooks.Endpoint(t.Context(), wsB, b.ID); err != nil {
				t.Errorf("B's endpoint is not in B: %v", err)
			}
			w := e.do(t, e.keys["A viewer"], "GET", "/api/v1/webhooks", "")
			if l := decode[api.WebhookList](t, w); len(l.Webhooks) != 1 || l.Webhooks[0].ID != a.ID {
				t.Errorf("A lists %+v, want its own only", l)
			}
			if w := e.do(t, e.keys["A admin"], "DELETE", "/api/v1/webhooks/"+b.ID, ""); w.Code != http.StatusNotFound {
				t.Errorf("A deletes B's: %d", w.Code)
			}

			endpointAfter, _ := hooks.Endpoint(t.Context(), wsA, a.ID)
			logAfter, _ := hooks.Deliveries(t.Context(), wsA, webhooks.DeliveryQuery{Endpoint: a.ID})
			if !reflect.DeepEqual(endpointAfter, endpointBefore) {
				t.Errorf("A's endpoint changed:\n got  %+v\n want %+v", endpointAfter, endpointBefore)
			}
			if !reflect.DeepEqual(logAfter, logBefore) {
				t.Errorf("A's log changed:\n got  %+v\n want %+v", logAfter, logBefore)
			}
		})
	}
}
