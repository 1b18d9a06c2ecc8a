package controlplane

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/secret"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestInitialKeyPlaceholder: initial_api_key written as a runtime
// placeholder is expanded from the environment, and the app's config (what
// the admin endpoint's /config/ serves) keeps the placeholder.
func TestInitialKeyPlaceholder(t *testing.T) {
	key := newKey(t)
	t.Setenv("SHORTIFY_TEST_INITIAL_KEY", key.Secret)
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", InitialAPIKey: "{env.SHORTIFY_TEST_INITIAL_KEY}"}
	wantValid(t, a)
	if a.serviceConfig().InitialAPIKey != key.Secret {
		t.Fatalf("the service gets %q, want the expanded key", a.serviceConfig().InitialAPIKey)
	}
	if a.InitialAPIKey != "{env.SHORTIFY_TEST_INITIAL_KEY}" {
		t.Fatalf("the config now holds %q", a.InitialAPIKey)
	}
}

func TestCheckInitialKey(t *testing.T) {
	good := newKey(t)
	for _, tt := range []struct {
		key, errHas string
	}{
		{"", ""},
		{good.Secret, ""},
		{"{SHORTIFY_INITIAL_API_KEY}", "placeholder"},
		{"sk_nope", "malformed"},
		{"sk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "too easy to guess"},
	} {
		err := checkInitialKey(tt.key)
		switch {
		case tt.errHas == "" && err != nil:
			t.Errorf("%q refused: %v", tt.key, err)
		case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
			t.Errorf("%q: error %v, want one containing %q", tt.key, err, tt.errHas)
		case tt.errHas == "too easy to guess" && !errors.Is(err, secret.ErrWeak):
			t.Errorf("%q: error %v does not wrap secret.ErrWeak", tt.key, err)
		}
	}
}

// TestShowFirstKey: a generated first key is printed only on a terminal;
// otherwise it goes to a 0600 file whose path, never the key, is logged.
func TestShowFirstKey(t *testing.T) {
	key := newKey(t)
	for _, interactive := range []bool{true, false} {
		dir := t.TempDir()
		var term, logs bytes.Buffer
		out := keyOutput{dataDir: dir, terminal: &term, interactive: func() bool { return interactive }}
		log := slog.New(slog.NewTextHandler(&logs, nil))
		if err := showFirstKey(out, key, log); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), key.Secret) {
			t.Errorf("interactive=%v: the log shows the key: %s", interactive, logs.String())
		}
		path := filepath.Join(dir, InitialKeyFile)
		_, statErr := os.Stat(path)
		if interactive {
			if !strings.Contains(term.String(), key.Secret) {
				t.Errorf("on a terminal the key is not shown: %q", term.String())
			}
			if !os.IsNotExist(statErr) {
				t.Errorf("on a terminal a key file was written too (%v)", statErr)
			}
			continue
		}
		if term.Len() != 0 {
			t.Errorf("not a terminal, yet %q was printed", term.String())
		}
		wantKeyFile(t, path, key.Secret)
		if !strings.Contains(logs.String(), path) {
			t.Errorf("the log does not name the key file %s: %s", path, logs.String())
		}
	}
}

// wantKeyFile checks that path holds key and only its owner may read it.
func wantKeyFile(t *testing.T, path, key string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != key {
		t.Errorf("%s holds %q, want the key", path, got)
	}
}

// TestGeneratedFirstKeyFile starts a node without an initial key, with
// standard error not a terminal (as under go test, in a pod or under a
// service manager): the key it makes is in DataDir/initial-admin-key, mode
// 0600, and it is an admin key of the cluster.
func TestGeneratedFirstKeyFile(t *testing.T) {
	dir := t.TempDir()
	a := &App{DataDir: dir, RaftBind: testenv.FreeAddr(t), PublicURL: "https://sho.rt"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	defer func() { _ = a.Stop() }()

	path := filepath.Join(dir, InitialKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no key file after the first start: %v", err)
	}
	key := strings.TrimSpace(string(b))
	wantKeyFile(t, path, key)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/admin/keys", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	a.handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("the key from the file on an admin route: %d %s", w.Code, w.Body)
	}
}
