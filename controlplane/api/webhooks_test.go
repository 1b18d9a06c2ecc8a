package api_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/store"
)

// webhookStores opens a webhook store on each database.
var webhookStores = map[string]func(t *testing.T) *store.Store{
	"sqlite": func(t *testing.T) *store.Store {
		return openWebhooks(t, "sqlite://"+filepath.Join(t.TempDir(), "links.db"))
	},
	"postgres": func(t *testing.T) *store.Store { return openWebhooks(t, testenv.Schema(t)) },
}

func openWebhooks(t testing.TB, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// webhookEnv is the isolation matrix's API (workspaces A and B, keys of
// each role) with a webhook store.
func webhookEnv(t *testing.T, name string, cfg api.Config) (*isoEnv, *store.Store) {
	t.Helper()
	hooks := webhookStores[name](t)
	return newIsoEnv(t, backends(t)[name](t), cfg, api.Deps{Webhooks: hooks}), hooks
}

func createWebhook(t *testing.T, e *isoEnv, key, body string) api.Webhook {
	t.Helper()
	w := e.do(t, key, "POST", "/api/v1/webhooks", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create webhook %s: %d %s", body, w.Code, w.Body.String())
	}
	return decode[api.Webhook](t, w)
}

func TestWebhooksManage(t *testing.T) {
	for name := range webhookStores {
		t.Run(name, func(t *testing.T) {
			e, hooks := webhookEnv(t, name, api.Config{})
			admin, viewer := e.keys["A admin"], e.keys["A viewer"]
			w := e.do(t, admin, "POST", "/api/v1/webhooks", `{"url":"https://hooks.example.com/in","events":["link.created","link.clicked"],"description":"CRM"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			made := decode[api.Webhook](t, w)
			if w.Header().Get("Location") != "/api/v1/webhooks/"+made.ID || !strings.HasPrefix(made.ID, "wh_") ||
				made.URL != "https://hooks.example.com/in" || made.Description != "CRM" || made.Disabled ||
				!reflect.DeepEqual(made.Events, []string{"link.created", "link.clicked"}) {
				t.Errorf("created %+v (Location %q)", made, w.Header().Get("Location"))
			}
			secret, ok := strings.CutPrefix(made.Secret, "whsec_")
			if raw, err := base64.StdEncoding.DecodeString(secret); !ok || err != nil || len(raw) != 24 {
				t.Errorf("secret %q: want whsec_ and the base64 of 24 bytes", made.Secret)
			}
			stored, err := hooks.Endpoint(t.Context(), wsA, made.ID)
			if err != nil || stored.Secret != made.Secret {
				t.Fatalf("stored in workspace A: %+v, %v", stored, err)
			}

			// Viewers read, never the secret.
			w = e.do(t, viewer, "GET", "/api/v1/webhooks", "")
			list := decode[api.WebhookList](t, w)
			if w.Code != http.StatusOK || len(list.Webhooks) != 1 || list.Webhooks[0].ID != made.ID || list.Webhooks[0].Secret != "" {
				t.Errorf("list: %d %+v", w.Code, list)
			}
			w = e.do(t, viewer, "GET", "/api/v1/webhooks/"+made.ID, "")
			if got := decode[api.Webhook](t, w); w.Code != http.StatusOK || got.Secret != "" || got.URL != made.URL {
				t.Errorf("get: %d %+v", w.Code, got)
			}
			if strings.Contains(w.Body.String(), "whsec_") {
				t.Errorf("the secret is in a read: %s", w.Body)
			}

			w = e.do(t, admin, "PATCH", "/api/v1/webhooks/"+made.ID, `{"url":"https://hooks.example.com/v2","events":["link.deleted"],"description":""}`)
			got := decode[api.Webhook](t, w)
			if w.Code != http.StatusOK || got.URL != "https://hooks.example.com/v2" || !reflect.DeepEqual(got.Events, []string{"link.deleted"}) || got.Description != "" || got.Secret != "" {
				t.Errorf("patch: %d %+v", w.Code, got)
			}
			w = e.do(t, admin, "PATCH", "/api/v1/webhooks/"+made.ID, `{"disabled":true}`)
			if got := decode[api.Webhook](t, w); !got.Disabled || got.DisabledReason != "user" || got.DisabledAt == nil {
				t.Errorf("disable: %d %+v", w.Code, got)
			}
			// Failing: enabling clears it.
			fail(t, hooks, stored, time.Now().Add(-webhooks.RetryFor))
			w = e.do(t, admin, "GET", "/api/v1/webhooks/"+made.ID, "")
			if got := decode[api.Webhook](t, w); got.FailingSince == nil {
				t.Errorf("failing endpoint shown as %+v", got)
			}
			w = e.do(t, admin, "PATCH", "/api/v1/webhooks/"+made.ID, `{"disabled":false}`)
			if got := decode[api.Webhook](t, w); got.Disabled || got.DisabledReason != "" || got.DisabledAt != nil || got.FailingSince != nil {
				t.Errorf("enable: %d %+v", w.Code, got)
			}

			w = e.do(t, admin, "POST", "/api/v1/webhooks/"+made.ID+"/rotate-secret", "")
			rotated := decode[api.Webhook](t, w)
			if w.Code != http.StatusOK || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == made.Secret {
				t.Errorf("rotate: %d %+v", w.Code, rotated)
			}
			if s, _ := hooks.Endpoint(t.Context(), wsA, made.ID); s.Secret != rotated.Secret {
				t.Errorf("stored secret %q after rotating to %q", s.Secret, rotated.Secret)
			}

			if w = e.do(t, admin, "DELETE", "/api/v1/webhooks/"+made.ID, ""); w.Code != http.StatusNoContent {
				t.Errorf("delete: %d %s", w.Code, w.Body)
			}
			for _, m := range []string{"GET", "DELETE"} {
				if w = e.do(t, admin, m, "/api/v1/webhooks/"+made.ID, ""); w.Code != http.StatusNotFound {
					t.Errorf("%s after delete: %d", m, w.Code)
				}
			}
		})
	}
}

// fail records a failed attempt of a new delivery to e at at.
func fail(t *testing.T, s webhooks.Store, e webhooks.Endpoint, at time.Time) {
	t.Helper()
	d := webhooks.Delivery{ID: fmt.Sprintf("msg_f%d", at.UnixNano()), Endpoint: e.ID, Workspace: e.Workspace, Event: webhooks.LinkDeleted, Payload: []byte(`{}`)}
	if err := s.Enqueue(t.Context(), []webhooks.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(t.Context(), d, webhooks.Attempt{At: at, Status: 500, Err: "status 500", Next: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookValidation: every bad field is a 400 naming it, and nothing
// changes.
func TestWebhookValidation(t *testing.T) {
	e, hooks := webhookEnv(t, "sqlite", api.Config{})
	admin := e.keys["A admin"]
	made := createWebhook(t, e, admin, `{"url":"https://hooks.example.com/in","events":["link.created"]}`)
	before, _ := hooks.Endpoint(t.Context(), wsA, made.ID)
	long := "https://hooks.example.com/" + strings.Repeat("a", api.MaxWebhookURLLength)
	for _, c := range []struct{ body, field string }{
		{`{"url":"","events":["link.created"]}`, "url"},
		{`{"url":"hooks.example.com/in","events":["link.created"]}`, "url"},
		{`{"url":"ftp://hooks.example.com/in","events":["link.created"]}`, "url"},
		{`{"url":"https://user:pw@hooks.example.com/in","events":["link.created"]}`, "url"},
		{`{"url":"https:///in","events":["link.created"]}`, "url"},
		{`{"url":"` + long + `","events":["link.created"]}`, "url"},
		{`{"url":"http://localhost:8080/in","events":["link.created"]}`, "url"},
		{`{"url":"http://api.localhost./in","events":["link.created"]}`, "url"},
		{`{"url":"http://127.0.0.1/in","events":["link.created"]}`, "url"},
		{`{"url":"http://10.1.2.3/in","events":["link.created"]}`, "url"},
		{`{"url":"http://169.254.169.254/latest","events":["link.created"]}`, "url"},
		{`{"url":"http://[::1]:9/in","events":["link.created"]}`, "url"},
		{`{"url":"http://[::ffff:192.168.0.1]/in","events":["link.created"]}`, "url"},
		{`{"url":"https://hooks.example.com/in","events":[]}`, "events"},
		{`{"url":"https://hooks.example.com/in","events":["link.exploded"]}`, "events"},
		{`{"url":"https://hooks.example.com/in","events":["link.created","link.created"]}`, "events"},
		{`{"url":"https://hooks.example.com/in","events":["link.created"],"description":"` + strings.Repeat("d", 257) + `"}`, "description"},
		{`{"url":"https://hooks.example.com/in","events":["link.created"],"description":"a\u0000b"}`, "description"},
		{`{"url":"https://hooks.example.com/in","events":["link.created"],"secret":"whsec_mine"}`, "secret"},
		{`{"url":7,"events":["link.created"]}`, "url"},
	} {
		for _, req := range []struct{ method, path string }{{"POST", "/api/v1/webhooks"}, {"PATCH", "/api/v1/webhooks/" + made.ID}} {
			w := e.do(t, admin, req.method, req.path, c.body)
			p := decode[problem.Details](t, w)
			if w.Code != http.StatusBadRequest || p.Field != c.field {
				t.Errorf("%s %s: %d field %q (%s), want 400 naming %s", req.method, c.body, w.Code, p.Field, p.Detail, c.field)
			}
		}
	}
	if w := e.do(t, admin, "POST", "/api/v1/webhooks", `{"url":"https://hooks.example.com/in"}`); w.Code != http.StatusBadRequest || decode[problem.Details](t, w).Field != "events" {
		t.Errorf("create without events: %d %s", w.Code, w.Body)
	}
	for _, body := range []string{`{"events":null}`, `{"disabled":"yes"}`} {
		if w := e.do(t, admin, "PATCH", "/api/v1/webhooks/"+made.ID, body); w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Errorf("PATCH %s: %d", body, w.Code)
		}
	}
	list, _ := hooks.Endpoints(t.Context(), wsA)
	after, _ := hooks.Endpoint(t.Context(), wsA, made.ID)
	after.UpdatedAt = before.UpdatedAt // the accepted no-op PATCH above
	if len(list) != 1 || !reflect.DeepEqual(after, before) {
		t.Errorf("bad requests changed the store: %d endpoints, %+v, was %+v", len(list), after, before)
	}

	// With outbound_allow_private, private addresses and localhost are
	// accepted; the always-denied ones are the deliverer's to refuse.
	e2, _ := webhookEnv(t, "sqlite", api.Config{OutboundAllowPrivate: true})
	for _, u := range []string{"http://localhost:8080/in", "http://127.0.0.1:9/in", "http://10.1.2.3/in"} {
		createWebhook(t, e2, e2.keys["A admin"], `{"url":"`+u+`","events":["link.created"]}`)
	}
}

// TestWebhookRoles: viewers and creators read endpoints and logs but
// manage nothing; a workspace admin manages.
func TestWebhookRoles(t *testing.T) {
	e, hooks := webhookEnv(t, "sqlite", api.Config{})
	made := createWebhook(t, e, e.keys["A admin"], `{"url":"https://hooks.example.com/in","events":["link.created"]}`)
	enqueueDeliveries(t, hooks, made, 1)
	for _, role := range []string{"A viewer", "A creator"} {
		for _, p := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + made.ID, "/api/v1/webhooks/" + made.ID + "/deliveries"} {
			if w := e.do(t, e.keys[role], "GET", p, ""); w.Code != http.StatusOK || strings.Contains(w.Body.String(), "whsec_") {
				t.Errorf("%s GET %s: %d %s", role, p, w.Code, w.Body)
			}
		}
		for _, c := range webhookWrites(made.ID, "msg_0") {
			if w := e.do(t, e.keys[role], c.method, c.path, c.body); w.Code != http.StatusForbidden {
				t.Errorf("%s %s %s: %d, want 403", role, c.method, c.path, w.Code)
			}
		}
	}
	if _, err := hooks.Endpoint(t.Context(), wsA, made.ID); err != nil {
		t.Errorf("the endpoint is gone: %v", err)
	}
}

// webhookWrites are the write calls on endpoint id and its delivery.
func webhookWrites(id, delivery string) []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{"POST", "/api/v1/webhooks", `{"url":"https://evil.example/","events":["link.created"]}`},
		{"PATCH", "/api/v1/webhooks/" + id, `{"url":"https://evil.example/"}`},
		{"POST", "/api/v1/webhooks/" + id + "/rotate-secret", ""},
		{"POST", "/api/v1/webhooks/" + id + "/deliveries/" + delivery + "/replay", ""},
		{"DELETE", "/api/v1/webhooks/" + id, ""},
	}
}

// enqueueDeliveries adds n deliveries msg_0 … to e, oldest first.
func enqueueDeliveries(t *testing.T, s webhooks.Store, e api.Webhook, n int) {
	t.Helper()
	for i := range n {
		d := webhooks.Delivery{ID: fmt.Sprintf("msg_%d", i), Endpoint: e.ID, Workspace: wsA, Event: webhooks.LinkCreated,
			Payload: fmt.Appendf(nil, `{"type":"link.created","data":{"n":%d}}`, i)}
		if err := s.Enqueue(t.Context(), []webhooks.Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWebhookDeliveries(t *testing.T) {
	for name := range webhookStores {
		t.Run(name, func(t *testing.T) {
			e, hooks := webhookEnv(t, name, api.Config{})
			made := createWebhook(t, e, e.keys["A admin"], `{"url":"https://hooks.example.com/in","events":["link.created"]}`)
			enqueueDeliveries(t, hooks, made, 5)
			d1 := webhooks.Delivery{ID: "msg_1", Endpoint: made.ID}
			at := time.Now().UTC().Truncate(time.Second)
			if err := hooks.Record(t.Context(), d1, webhooks.Attempt{At: at, Status: 410, Err: "status 410"}); err != nil {
				t.Fatal(err)
			}
			base := "/api/v1/webhooks/" + made.ID + "/deliveries"
			var ids []string
			next := ""
			for range 5 {
				q := "?limit=2"
				if next != "" {
					q += "&cursor=" + next
				}
				w := e.do(t, e.keys["A viewer"], "GET", base+q, "")
				page := decode[api.WebhookDeliveryPage](t, w)
				if w.Code != http.StatusOK {
					t.Fatalf("page: %d %s", w.Code, w.Body)
				}
				for _, d := range page.Deliveries {
					ids = append(ids, d.ID)
				}
				if next = page.NextCursor; next == "" {
					break
				}
			}
			if want := []string{"msg_4", "msg_3", "msg_2", "msg_1", "msg_0"}; !reflect.DeepEqual(ids, want) {
				t.Errorf("pages: %v, want %v", ids, want)
			}
			w := e.do(t, e.keys["A viewer"], "GET", base+"?state=failed", "")
			page := decode[api.WebhookDeliveryPage](t, w)
			if len(page.Deliveries) != 1 {
				t.Fatalf("failed: %d %s", w.Code, w.Body)
			}
			got := page.Deliveries[0]
			if got.ID != "msg_1" || got.State != "failed" || got.Attempts != 1 || got.LastStatus != 410 || got.LastError != "status 410" ||
				got.LastAttempt == nil || !got.LastAttempt.Equal(at) || got.NextAttempt != nil || got.Event != "link.created" ||
				string(got.Payload) != `{"type":"link.created","data":{"n":1}}` {
				t.Errorf("failed delivery: %+v (payload %s)", got, got.Payload)
			}
			for _, q := range []struct{ query, field string }{
				{"?state=lost", "state"}, {"?limit=0", "limit"}, {"?cursor=abc", "cursor"}, {"?cursor=", "cursor"}, {"?since=1", "since"},
			} {
				w := e.do(t, e.keys["A viewer"], "GET", base+q.query, "")
				if p := decode[problem.Details](t, w); w.Code != http.StatusBadRequest || p.Field != q.field {
					t.Errorf("%s: %d %+v", q.query, w.Code, p)
				}
			}

			w = e.do(t, e.keys["A admin"], "POST", base+"/msg_1/replay", "")
			replayed := decode[api.WebhookDelivery](t, w)
			if w.Code != http.StatusAccepted || replayed.ID != "msg_1" || replayed.State != "pending" || replayed.NextAttempt == nil {
				t.Errorf("replay: %d %+v", w.Code, replayed)
			}
			for _, id := range []string{"msg_9", "nope", "msg_1%2F..%2F"} {
				if w := e.do(t, e.keys["A admin"], "POST", base+"/"+id+"/replay", ""); w.Code != http.StatusNotFound {
					t.Errorf("replay %s: %d", id, w.Code)
				}
			}
			if w := e.do(t, e.keys["A viewer"], "GET", "/api/v1/webhooks/wh_none/deliveries", ""); w.Code != http.StatusNotFound {
				t.Errorf("log of no endpoint: %d", w.Code)
			}
		})
	}
}

// TestWebhookLimit: a workspace holds MaxEndpointsPerWorkspace endpoints;
// the next create is a 403.
func TestWebhookLimit(t *testing.T) {
	e, _ := webhookEnv(t, "sqlite", api.Config{})
	for i := range webhooks.MaxEndpointsPerWorkspace {
		createWebhook(t, e, e.keys["A admin"], fmt.Sprintf(`{"url":"https://hooks.example.com/%d","events":["link.created"]}`, i))
	}
	w := e.do(t, e.keys["A admin"], "POST", "/api/v1/webhooks", `{"url":"https://hooks.example.com/x","events":["link.created"]}`)
	if w.Code != http.StatusForbidden {
		t.Errorf("one too many: %d %s", w.Code, w.Body)
	}
	createWebhook(t, e, e.keys["B admin"], `{"url":"https://hooks.example.com/b","events":["link.created"]}`)
}

// TestWebhooksWithoutStore: the routes answer 503 when the API has no
// webhook store.
func TestWebhooksWithoutStore(t *testing.T) {
	e := newIsoEnv(t, backends(t)["sqlite"](t), api.Config{}, api.Deps{})
	for _, c := range append(webhookWrites("wh_x", "msg_x"), struct{ method, path, body string }{"GET", "/api/v1/webhooks", ""}) {
		if w := e.do(t, e.keys["A admin"], c.method, c.path, c.body); w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d", c.method, c.path, w.Code)
		}
	}
}

// TestWebhookAudit: creates, updates, deletes and replays of webhooks are
// in the audit log with the endpoint (and delivery) they touched.
func TestWebhookAudit(t *testing.T) {
	hooks := webhookStores["sqlite"](t)
	e := newAuditEnv(t, auditStores["sqlite"](t), api.Deps{Webhooks: hooks})
	w := e.do(t, e.admin, "POST", "/api/v1/webhooks", `{"url":"https://hooks.example.com/in","events":["link.created"]}`, "")
	made := decode[api.Webhook](t, w)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	d := webhooks.Delivery{ID: "msg_0", Endpoint: made.ID, Workspace: 1, Event: webhooks.LinkCreated, Payload: []byte(`{}`)}
	if err := hooks.Enqueue(t.Context(), []webhooks.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	e.do(t, e.admin, "PATCH", "/api/v1/webhooks/"+made.ID, `{"description":"x"}`, "")
	e.do(t, e.admin, "POST", "/api/v1/webhooks/"+made.ID+"/deliveries/msg_0/replay", "", "")
	e.do(t, e.admin, "DELETE", "/api/v1/webhooks/"+made.ID, "", "")
	got := e.waitEntries(t, 4)
	var seen []string
	for _, g := range got {
		seen = append(seen, fmt.Sprintf("%s %s %d", g.Action, g.Target, g.Status))
	}
	want := []string{
		"DELETE /api/v1/webhooks/{id} " + made.ID + " 204",
		"POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay " + made.ID + "/msg_0 202",
		"PATCH /api/v1/webhooks/{id} " + made.ID + " 200",
		"POST /api/v1/webhooks " + made.ID + " 201",
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("audit:\n got  %q\n want %q", seen, want)
	}
}
