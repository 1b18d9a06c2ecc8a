package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats"
	statsapi "github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/handler"
)

// The app gives the stats services of the same config what they take
// from it.
var (
	_ stats.ControlPlane   = (*App)(nil)
	_ handler.ControlPlane = (*App)(nil)
)

// The stats API's directory on a running node: the workspaces of the
// FSM, and the links of the link store with their workspace; nothing once
// the app stopped.
func TestStatsDirectory(t *testing.T) {
	initial := newKey(t)
	a := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), PublicURL: "https://sho.rt", InitialAPIKey: initial.Secret}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	stopped := false
	defer func() {
		if !stopped {
			_ = a.Stop()
		}
	}()

	dir := a.WaitStatsDirectory(t.Context())
	if dir == nil {
		t.Fatal("no directory from a running app")
	}
	if w, ok := dir.Workspace(workspace.DefaultID); !ok || w.Name != workspace.DefaultName {
		t.Errorf("Workspace(1): %+v, %v", w, ok)
	}
	if w, ok := dir.WorkspaceByName(workspace.DefaultName); !ok || w.ID != workspace.DefaultID {
		t.Errorf("WorkspaceByName(default): %+v, %v", w, ok)
	}
	if _, ok := dir.Workspace(99); ok {
		t.Error("Workspace(99) found")
	}
	if all := dir.Workspaces(); len(all) == 0 || all[0] != (statsapi.Workspace{ID: workspace.DefaultID, Name: workspace.DefaultName}) {
		t.Errorf("Workspaces: %+v", all)
	}

	r := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(`{"url":"https://example.com/x","alias":"stats-dir"}`))
	r.Header.Set("Authorization", "Bearer "+initial.Secret)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.handler().ServeHTTP(w, r)
	var created struct {
		ID string `json:"id"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &created) != nil {
		t.Fatalf("create a link: %d %s", w.Code, w.Body)
	}
	ref, found, err := dir.Link(t.Context(), "", "stats-dir")
	if err != nil || !found || strconv.FormatInt(ref.ID, 10) != created.ID || ref.Workspace != workspace.DefaultID {
		t.Errorf("Link(stats-dir): %+v, %v, %v; want ID %s in workspace 1", ref, found, err, created.ID)
	}
	if _, found, err := dir.Link(t.Context(), "go.acme.example", "stats-dir"); err != nil || found {
		t.Errorf("Link on another domain: found %v, %v", found, err)
	}
	if _, found, err := dir.Link(t.Context(), "", "no-such-link"); err != nil || found {
		t.Errorf("Link(no-such-link): found %v, %v", found, err)
	}

	stopped = true
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if dir := a.WaitStatsDirectory(t.Context()); dir != nil {
		t.Error("a directory from a stopped app")
	}
}
