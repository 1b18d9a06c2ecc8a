package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The app wires the workspace and domain routes to its node: the
// configured workspace_max_domains applies, and verification asks
// domain_resolver (a real DNS server on loopback, which has no challenge
// record: the answer says what is expected).
func TestAppWorkspaceRoutes(t *testing.T) {
	initial := newKey(t)
	a := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), PublicURL: "https://sho.rt", InitialAPIKey: initial.Secret,
		WorkspaceMaxDomains: 1, DomainResolver: targeturltest.DNSServerAddr(t, nil, nil)}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	defer func() { _ = a.Stop() }()
	call := func(key, method, path, body string, status int) []byte {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		a.handler().ServeHTTP(w, r)
		if w.Code != status {
			t.Fatalf("%s %s: %d %s, want %d", method, path, w.Code, w.Body, status)
		}
		return w.Body.Bytes()
	}
	var ws api.WorkspaceInfo
	_ = json.Unmarshal(call(initial.Secret, "POST", "/api/v1/workspaces", `{"name":"acme"}`, http.StatusCreated), &ws)
	if ws.EffectiveLimits.MaxDomains != 1 {
		t.Fatalf("workspace_max_domains not applied: %+v", ws)
	}
	var k api.NewKey
	_ = json.Unmarshal(call(initial.Secret, "POST", "/api/v1/admin/keys", `{"name":"acme admin","role":"admin","workspace":"acme"}`, http.StatusCreated), &k)
	call(k.Key, "POST", "/api/v1/domains", `{"domain":"go.acme.example"}`, http.StatusCreated)
	call(k.Key, "POST", "/api/v1/domains", `{"domain":"go2.acme.example"}`, http.StatusForbidden)
	body := call(k.Key, "POST", "/api/v1/domains/go.acme.example/verify", "", http.StatusUnprocessableEntity)
	if !strings.Contains(string(body), "_shortify-challenge.go.acme.example") {
		t.Errorf("verify without the record: %s", body)
	}
	call(k.Key, "GET", "/api/v1/workspaces", "", http.StatusForbidden)
	call(initial.Secret, "DELETE", "/api/v1/workspaces/acme", "", http.StatusConflict)
	call(initial.Secret, "DELETE", "/api/v1/workspaces/acme?delete_links=true", "", http.StatusNoContent)
}
