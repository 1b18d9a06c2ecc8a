package controlplane

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestWebhooksWired runs a one-node control plane on SQLite: the API's
// webhooks routes store in the link database, and outbound_allow_private
// lets an endpoint name a loopback address (refused without it).
func TestWebhooksWired(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "strict", true: "allow private"}[allow], func(t *testing.T) { testWebhooksWired(t, allow) })
	}
}

func testWebhooksWired(t *testing.T, allow bool) {
	key := newKey(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	dir := t.TempDir()
	a := &App{
		DataDir:              dir,
		RaftBind:             testenv.FreeAddr(t),
		InitialAPIKey:        key.Secret,
		Database:             "sqlite://" + filepath.Join(dir, "links.db"),
		StatsDatabase:        "sqlite://" + filepath.Join(dir, "stats.db"),
		PublicURL:            "https://sho.rt",
		OutboundAllowPrivate: allow,
	}
	caddytest.StartApp(t, ctx, a)
	defer a.Stop()
	send := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(api.KeyHeader, key.Secret)
		w := httptest.NewRecorder()
		a.handler().ServeHTTP(w, r)
		return w
	}
	if w := send("POST", "/api/v1/webhooks", `{"url":"https://hooks.example.com/in","events":["link.created"]}`); w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := send("GET", "/api/v1/webhooks", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "hooks.example.com") {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	want := 400
	if allow {
		want = 201
	}
	if w := send("POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/in","events":["link.created"]}`); w.Code != want {
		t.Errorf("outbound_allow_private %v, a loopback endpoint: %d %s, want %d", allow, w.Code, w.Body, want)
	}
}
