package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
)

// wsEnv is an API on a real FSM's registries with two workspaces, acme
// and other, and keys: an instance admin, acme's admin and viewer, other's
// admin.
type wsEnv struct {
	h                    *api.Handler
	reg                  *fsmRegistry
	store                linkstore.Store
	acme, other          int64
	root, acmeAdmin      string
	acmeViewer, otherAdm string
}

func newWSEnv(t *testing.T, store linkstore.Store, cfg api.Config, deps api.Deps) *wsEnv {
	t.Helper()
	reg := newRegistry()
	e := &wsEnv{reg: reg, store: store}
	e.acme, e.other = reg.mustWorkspace(t, "acme"), reg.mustWorkspace(t, "other")
	e.root = reg.mint(t, apikey.Admin, 0)
	e.acmeAdmin = reg.mint(t, apikey.Admin, e.acme)
	e.acmeViewer = reg.mint(t, apikey.Viewer, e.acme)
	e.otherAdm = reg.mint(t, apikey.Admin, e.other)
	if cfg.PublicURL == "" {
		cfg.PublicURL = testPublicURL
	}
	deps.Store = store
	deps.Issuer = newIssuer(t, uint64(time.Now().UnixNano()%1e9))
	h, err := api.New(cfg, reg.deps(deps))
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

// call sends a request with key (and, when ws is set, the
// Shortify-Workspace header).
func (e *wsEnv) call(t *testing.T, key, ws, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://sho.test"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set(api.KeyHeader, key)
	}
	if ws != "" {
		r.Header.Set(apiauth.WorkspaceHeader, ws)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// wantStatusOf fails the test unless w has the status.
func wantStatusOf(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body.String())
	}
}

// TestWorkspaceAdminAccess: an admin key of a workspace reaches the
// workspace-admin routes and no instance admin route (403); its viewer
// reaches neither.
func TestWorkspaceAdminAccess(t *testing.T) {
	e := newWSEnv(t, wsSQLite(t), api.Config{}, api.Deps{})
	for _, rt := range e.h.Routes() {
		if rt.Access != "admin" && rt.Access != "workspace-admin" {
			continue
		}
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{code}", "nosuchcode", "{id}", "AAAAAAAAAAAA", "{name}", "clicks_y2000m01", "{domain}", "blocked.example").Replace(path)
		t.Run(rt.Pattern, func(t *testing.T) {
			code := e.call(t, e.acmeAdmin, "", method, path, "{}").Code
			switch {
			case rt.Access == "admin" && code != http.StatusForbidden:
				t.Errorf("workspace admin on an instance admin route: %d, want 403", code)
			case rt.Access == "workspace-admin" && (code == 401 || code == 403):
				t.Errorf("workspace admin on a workspace-admin route: %d, want through", code)
			}
			if code := e.call(t, e.acmeViewer, "", method, path, "{}").Code; code != http.StatusForbidden {
				t.Errorf("workspace viewer: %d, want 403", code)
			}
			if code := e.call(t, e.acmeAdmin, "other", method, path, "{}").Code; code != http.StatusNotFound && code != http.StatusForbidden {
				t.Errorf("workspace admin naming another workspace: %d, want 404 (or 403 on an instance route)", code)
			}
		})
	}
}

// wsSQLite is a store for tests that touch no links.
func wsSQLite(t *testing.T) linkstore.Store { return backends(t)["sqlite"](t) }
