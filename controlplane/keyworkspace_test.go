package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// entryOf writes keys of the default workspace in the form from before
// workspaces, which every FSM version applies; recordOf gives the
// authentication result the key's workspace.
func TestKeyRecordWorkspace(t *testing.T) {
	created := time.UnixMilli(1000).UTC()
	tests := []struct {
		name          string
		rec           api.KeyRecord
		wireWorkspace int64
	}{
		{"admin of none", api.KeyRecord{Role: apikey.Admin}, 0},
		{"viewer of none", api.KeyRecord{Role: apikey.Viewer}, 0},
		{"viewer of the default", api.KeyRecord{Role: apikey.Viewer, Workspace: 1}, 0},
		{"creator of the default", api.KeyRecord{Role: apikey.Creator, Workspace: 1}, 0},
		{"admin of the default", api.KeyRecord{Role: apikey.Admin, Workspace: 1}, 1},
		{"creator of another", api.KeyRecord{Role: apikey.Creator, Workspace: 7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.ID, tt.rec.Name, tt.rec.CreatedAt = "AAAAAAAAAAAA", "k", created
			e := entryOf(tt.rec)
			if e.Workspace != tt.wireWorkspace {
				t.Fatalf("entry workspace %d, want %d", e.Workspace, tt.wireWorkspace)
			}
			data, err := fsm.Encode(fsm.AddKey{Key: e})
			if err != nil {
				t.Fatal(err)
			}
			if legacy := tt.wireWorkspace == 0; legacy == strings.Contains(string(data), "_min_version") {
				t.Fatalf("wire form %s (legacy form expected: %v)", data, legacy)
			}
			e.Workspace = 5
			if rec := recordOf(e); rec.Workspace != 5 || rec.InstanceAdmin() {
				t.Fatalf("recordOf lost the workspace: %+v", rec)
			}
		})
	}
}

// On a running node, the initial key and admin keys made through the API
// authenticate as instance admins, viewer and creator keys as keys of the
// default workspace; the routes answer as before.
func TestKeysAuthenticateWithWorkspace(t *testing.T) {
	initial := newKey(t)
	a := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), PublicURL: "https://sho.rt", InitialAPIKey: initial.Secret}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	defer func() { _ = a.Stop() }()

	create := func(role string) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/admin/keys", strings.NewReader(`{"name":"k","role":"`+role+`"}`))
		r.Header.Set("Authorization", "Bearer "+initial.Secret)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		a.handler().ServeHTTP(w, r)
		var k api.NewKey
		if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &k) != nil {
			t.Fatalf("create a %s key: %d %s", role, w.Code, w.Body)
		}
		return k.Key
	}
	keys := a.handler().KeyLookup()
	for _, tt := range []struct {
		key           string
		workspace     int64
		instanceAdmin bool
	}{
		{initial.Secret, 0, true},
		{create("admin"), 0, true},
		{create("creator"), 1, false},
		{create("viewer"), 1, false},
	} {
		rec, ok := apiauth.Authenticate(keys, tt.key)
		if !ok || rec.Workspace != tt.workspace || rec.InstanceAdmin() != tt.instanceAdmin {
			t.Errorf("%s key %s: authenticated %v, workspace %d, instance admin %v; want workspace %d, instance admin %v",
				rec.Role, rec.ID, ok, rec.Workspace, rec.InstanceAdmin(), tt.workspace, tt.instanceAdmin)
		}
	}
}
