package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/workspace"
)

// TestWorkspaceRoutes: create, list, read (by ID and by name), rename,
// limits, and the refusals, with the limits' defaults from the config.
func TestWorkspaceRoutes(t *testing.T) {
	e := newWSEnv(t, wsSQLite(t), api.Config{WorkspaceDefaults: fsm.WorkspaceLimits{MaxLinks: 1000, MaxDomains: 3}}, api.Deps{})
	w := e.call(t, e.root, "", "POST", "/api/v1/workspaces", `{"name":"beta","limits":{"max_domains":5}}`)
	wantStatusOf(t, w, http.StatusCreated)
	ws := decode[api.WorkspaceInfo](t, w)
	if ws.Name != "beta" || ws.ID <= e.other || ws.CreatedAt == nil || w.Header().Get("Location") != fmt.Sprintf("/api/v1/workspaces/%d", ws.ID) {
		t.Fatalf("created %+v, Location %q", ws, w.Header().Get("Location"))
	}
	if ws.Limits != (api.WorkspaceLimits{MaxDomains: 5}) || ws.EffectiveLimits != (api.WorkspaceLimits{MaxLinks: 1000, MaxDomains: 5}) {
		t.Errorf("limits %+v, effective %+v", ws.Limits, ws.EffectiveLimits)
	}
	for _, tc := range []struct {
		body   string
		status int
		detail string
	}{
		{`{"name":"beta"}`, http.StatusConflict, "another workspace has that name"},
		{`{"name":"Beta"}`, http.StatusBadRequest, "lower-case"},
		{`{"name":"-x"}`, http.StatusBadRequest, "hyphen"},
		{`{"name":""}`, http.StatusBadRequest, "name"},
		{`{"name":"x","limits":{"max_links":-1}}`, http.StatusBadRequest, "max_links"},
		{`{"name":"x","owner":"y"}`, http.StatusBadRequest, "owner"},
	} {
		wantProblem(t, e.call(t, e.root, "", "POST", "/api/v1/workspaces", tc.body), tc.status, tc.detail)
	}
	w = e.call(t, e.root, "", "GET", "/api/v1/workspaces", "")
	wantStatusOf(t, w, http.StatusOK)
	list := decode[map[string][]api.WorkspaceInfo](t, w)["workspaces"]
	if len(list) != 4 || list[0].Name != workspace.DefaultName || list[0].CreatedAt != nil || list[3].Name != "beta" {
		t.Fatalf("list: %+v", list)
	}
	for _, ref := range []string{"beta", fmt.Sprint(ws.ID)} {
		w = e.call(t, e.root, "", "GET", "/api/v1/workspaces/"+ref, "")
		wantStatusOf(t, w, http.StatusOK)
		if got := decode[api.WorkspaceInfo](t, w); got.ID != ws.ID {
			t.Errorf("GET %s: %+v", ref, got)
		}
	}
	wantProblem(t, e.call(t, e.root, "", "GET", "/api/v1/workspaces/nosuch", ""), http.StatusNotFound, "no workspace")
	wantProblem(t, e.call(t, e.root, "", "GET", "/api/v1/workspaces/999", ""), http.StatusNotFound, "no workspace")

	// PATCH: a limit changes, the others stay; a rename.
	w = e.call(t, e.root, "", "PATCH", "/api/v1/workspaces/beta", `{"name":"gamma","limits":{"max_links":10}}`)
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[api.WorkspaceInfo](t, w); got.Name != "gamma" || got.Limits != (api.WorkspaceLimits{MaxLinks: 10, MaxDomains: 5}) {
		t.Fatalf("patched: %+v", got)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		detail     string
	}{
		{"gamma", `{"name":"acme"}`, http.StatusConflict, "another workspace"},
		{"gamma", `{"name":"NO"}`, http.StatusBadRequest, "lower-case"},
		{"gamma", `{"limits":{"creates_per_minute":-5}}`, http.StatusBadRequest, "creates_per_minute"},
		{"default", `{"name":"main"}`, http.StatusBadRequest, "keeps its name"},
		{"beta", `{"name":"delta"}`, http.StatusNotFound, "no workspace"},
	} {
		wantProblem(t, e.call(t, e.root, "", "PATCH", "/api/v1/workspaces/"+tc.path, tc.body), tc.status, tc.detail)
	}
	// The default workspace may get limits.
	w = e.call(t, e.root, "", "PATCH", "/api/v1/workspaces/1", `{"name":"default","limits":{"max_domains":1}}`)
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[api.WorkspaceInfo](t, w); got.EffectiveLimits.MaxDomains != 1 {
		t.Errorf("default workspace: %+v", got)
	}
	wantProblem(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/default", ""), http.StatusConflict, "never deleted")
	wantProblem(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/gamma?delete_links=yes", ""), http.StatusBadRequest, "delete_links")
	wantStatusOf(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/gamma", ""), http.StatusNoContent)
	wantProblem(t, e.call(t, e.root, "", "GET", "/api/v1/workspaces/gamma", ""), http.StatusNotFound, "no workspace")
	// Keys alone keep a workspace (the FSM's refusal), until asked.
	e.reg.mint(t, "viewer", e.reg.mustWorkspace(t, "keysonly"))
	wantProblem(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/keysonly", ""), http.StatusConflict, "unrevoked API keys")
	wantStatusOf(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/keysonly?delete_links=true", ""), http.StatusNoContent)
	// Only instance admins.
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "GET", "/api/v1/workspaces", ""), http.StatusForbidden)
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/workspaces", `{"name":"mine"}`), http.StatusForbidden)
}

// TestDeleteWorkspace, on both stores: a workspace that holds links, a
// domain or a key is refused (409) unless delete_links=true, which retires
// its links (a deletion event each), deletes its domains and revokes its
// keys; other workspaces' links stay.
func TestDeleteWorkspace(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, eventsTopic))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(k.Close)
			p, err := producer.New(producer.Config{Brokers: k.ListenAddrs(), Topic: eventsTopic, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			e := newWSEnv(t, open(t), api.Config{}, api.Deps{Events: p})
			ctx := context.Background()
			id := time.Now().UnixNano() % 1e12
			var acmeLinks []string
			for i := range 3 {
				code := fmt.Sprintf("wsdel%d%d", id, i)
				if err := e.store.Create(ctx, linkstore.Link{ID: id + int64(i), Code: code, URL: "https://example.com/", WorkspaceID: e.acme, CreatedAt: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
				acmeLinks = append(acmeLinks, code)
			}
			otherCode := fmt.Sprintf("wsoth%d", id)
			if err := e.store.Create(ctx, linkstore.Link{ID: id + 10, Code: otherCode, URL: "https://example.com/", WorkspaceID: e.other, CreatedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
			wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"go.acme.example"}`), http.StatusCreated)

			wantProblem(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/acme", ""), http.StatusConflict, "holds 3 links")
			for _, c := range acmeLinks {
				if _, err := e.store.Get(ctx, "", c); err != nil {
					t.Fatalf("a refused delete touched link %s: %v", c, err)
				}
			}
			wantStatusOf(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/acme?delete_links=true", ""), http.StatusNoContent)
			for _, c := range acmeLinks {
				if _, err := e.store.Get(ctx, "", c); !errors.Is(err, linkstore.ErrNotFound) {
					t.Errorf("link %s of the deleted workspace: %v, want retired", c, err)
				}
			}
			if _, err := e.store.Get(ctx, "", otherCode); err != nil {
				t.Errorf("another workspace's link: %v", err)
			}
			if _, ok := e.reg.Domain("go.acme.example"); ok {
				t.Error("the workspace's domain outlived it")
			}
			if code := e.call(t, e.acmeAdmin, "", "GET", "/api/v1/domains", "").Code; code != http.StatusUnauthorized {
				t.Errorf("the deleted workspace's admin key: %d, want 401 (revoked)", code)
			}
			wantProblem(t, e.call(t, e.root, "", "GET", "/api/v1/workspaces/acme", ""), http.StatusNotFound, "no workspace")
			waitFor(t, "3 deletion events", func() bool { return p.Stats().Published == 3 })
			for _, ev := range kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], eventsTopic, 3) {
				if ev.Type != linkevents.Deleted || ev.Workspace != e.acme {
					t.Errorf("event %+v, want a deletion in workspace %d", ev, e.acme)
				}
			}

			// Keys alone keep a workspace too.
			wantProblem(t, e.call(t, e.root, "", "DELETE", "/api/v1/workspaces/other", ""), http.StatusConflict, "holds 1 links")
		})
	}
}
