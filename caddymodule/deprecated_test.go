package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/logging" // the file writer and json encoder

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestEdgeNames runs a real Caddy from a Caddyfile with the new directive,
// shortify_edge, and with the old one, shortify: both redirect; only the
// old one logs a deprecation warning, under its old module name. (Not
// parallel: t.Setenv, and
// caddy.Load is process-wide.)
func TestEdgeNames(t *testing.T) {
	caddyHome(t)
	c := newCode(t, "names")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/names"})
	client := redirectClient()

	for _, tc := range []struct{ directive, handler string }{
		{"shortify_edge", "shortify_edge"},
		{"shortify", "shortify"},
	} {
		t.Run(tc.directive, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			logFile := filepath.Join(t.TempDir(), "caddy.log")
			caddyfile := "{\n\tadmin off\n\tpersist_config off\n\tlog default {\n\t\toutput file " + logFile +
				"\n\t\tformat json\n\t}\n}\n\nhttp://" + addr + " {\n\t" + tc.directive + " {\n\t\tdatabase " + dsn +
				"\n\t\tvisitor_key k\n\t}\n}\n"
			cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
			if err != nil || len(warnings) != 0 {
				t.Fatalf("adapt: %v %v", err, warnings)
			}
			var decoded any
			if err := json.Unmarshal(cfg, &decoded); err != nil {
				t.Fatal(err)
			}
			if _, ok := findHandler(decoded, tc.handler); !ok {
				t.Fatalf("no %q handler in %s", tc.handler, cfg)
			}
			if err := caddy.Load(cfg, true); err != nil {
				t.Fatalf("caddy.Load: %v", err)
			}
			t.Cleanup(func() {
				if err := caddy.Stop(); err != nil {
					t.Errorf("caddy.Stop: %v", err)
				}
			})
			res, err := client.Get("http://" + addr + "/" + c)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 302 || res.Header.Get("Location") != "https://example.com/names" {
				t.Fatalf("GET /%s: %d %v", c, res.StatusCode, res.Header)
			}

			var deprecations []map[string]any
			testenv.WaitFor(t, "the log", 5*time.Second, func() bool {
				b, _ := os.ReadFile(logFile)
				deprecations = nil
				for _, line := range strings.Split(string(b), "\n") {
					var e map[string]any
					if json.Unmarshal([]byte(line), &e) == nil && strings.Contains(e["msg"].(string), "deprecated") {
						deprecations = append(deprecations, e)
					}
				}
				return len(b) > 0
			})
			switch tc.directive {
			case "shortify":
				if len(deprecations) != 1 || deprecations[0]["level"] != "warn" || deprecations[0]["logger"] != "http.handlers.shortify" ||
					!strings.Contains(deprecations[0]["msg"].(string), "shortify_edge") {
					t.Errorf("want one warning from http.handlers.shortify naming shortify_edge; got %v", deprecations)
				}
			default:
				if len(deprecations) != 0 {
					t.Errorf("the new name warns: %v", deprecations)
				}
			}
		})
	}
}

// TestEdgeErrorsNameTheEdge: Caddyfile and provisioning errors of the
// edge name shortify_edge, whichever spelling the config used, so that
// they cannot be taken for the control plane's global option shortify.
func TestEdgeErrorsNameTheEdge(t *testing.T) {
	for _, d := range []string{"shortify_edge", "shortify"} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\t"+d+" {\n\t\tcache_bytes 1\n\t}\n}\n"), nil)
		if err == nil || !strings.Contains(err.Error(), `unknown shortify_edge option "cache_bytes"`) {
			t.Errorf("%s: adapt error %v; want one naming shortify_edge", d, err)
		}
	}
	cfg := `{"admin":{"disabled":true,"config":{"persist":false}},"logging":{"logs":{"default":{"writer":{"output":"discard"}}}},"apps":{"http":{"servers":{"s":{"listen":["` + testenv.FreeAddr(t) +
		`"],"routes":[{"handle":[{"handler":"shortify_edge"}]}]}}}}}`
	err := caddy.Load([]byte(cfg), true)
	if err == nil {
		_ = caddy.Stop()
	}
	if err == nil || !strings.Contains(err.Error(), "shortify_edge") || !strings.Contains(err.Error(), "database: required") {
		t.Errorf("a handler without a database: %v; want an error naming shortify_edge", err)
	}

	// A store that cannot be opened: the 503's error, which Caddy logs.
	down := func(context.Context, linkstore.Config) (linkstore.Store, error) { return nil, errors.New("down") }
	h := provision(t, &Handler{Database: sqliteDSN(t), openStore: down})
	if _, err := serve(h, "GET", "/"+newCode(t, "down"), nil); err == nil || !strings.Contains(err.Error(), ": shortify_edge: open link store: down") {
		t.Errorf("a store that cannot open: %v; want an error naming shortify_edge", err)
	}
}

// TestDeprecatedHandlerIsTheHandler: the old module provisions, and
// marshals, as Handler does.
func TestDeprecatedHandlerIsTheHandler(t *testing.T) {
	t.Parallel()
	h := &DeprecatedHandler{Handler: Handler{Database: sqliteDSN(t), CacheSize: 7, keySalt: t.Name()}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if h.CacheSize != 7 || h.l1 == nil {
		t.Errorf("not provisioned as a Handler: %+v", h.Handler)
	}
	b, err := json.Marshal(h)
	if err != nil || !strings.Contains(string(b), `"cache_size":7`) {
		t.Errorf("JSON %s %v; want Handler's fields at the top level", b, err)
	}
}
