package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// TestCaddyfilesTracing: the root Caddyfile and the role Caddyfiles that
// serve HTTP requests have Caddy's tracing handler on their public site
// exactly when SHORTIFY_TRACING=on (span named by role), and none of
// them has it by default, so that no exporter is built; a value other
// than on or off fails to adapt rather than being taken for off.
func TestCaddyfilesTracing(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "n1.caddy")
	if err := os.WriteFile(bootstrap, []byte("bootstrap true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"cluster/n1.caddy": bootstrap}
	for file, span := range map[string]string{
		filepath.Join(repoRoot, "Caddyfile"):                  "shortify",
		filepath.Join("caddyfiles", "edge.Caddyfile"):         "shortify.edge",
		filepath.Join("caddyfiles", "controlplane.Caddyfile"): "shortify.controlplane",
		filepath.Join("caddyfiles", "frontdoor.Caddyfile"):    "shortify.frontdoor",
		filepath.Join("caddyfiles", "stats.Caddyfile"):        "", // no public site: the ingest only
	} {
		for _, sw := range []string{"", "off", "on"} {
			cfg := adaptRole(t, file+" SHORTIFY_TRACING="+sw, file, map[string]string{"SHORTIFY_NODE_ID": "n1", "SHORTIFY_TRACING": sw}, extra)
			if cfg == nil {
				continue
			}
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			handlers := strings.Count(string(b), `"handler":"tracing"`)
			want := 0
			if sw == "on" && span != "" {
				want = 1
			}
			if handlers != want {
				t.Errorf("%s with SHORTIFY_TRACING=%q: %d tracing handlers, want %d", file, sw, handlers, want)
			}
			if want == 1 && !strings.Contains(string(b), `"span":"`+span+`"`) {
				t.Errorf("%s: the tracing handler's span is not %q", file, span)
			}
		}
		if span == "" {
			continue
		}
		if _, err := adaptCaddyfile(t, file, map[string]string{"SHORTIFY_NODE_ID": "n1", "SHORTIFY_TRACING": "true"}, extra); err == nil {
			t.Errorf("%s: SHORTIFY_TRACING=true adapted; want an error (only on and off)", file)
		}
	}
}

// TestComposeTracing: compose.yaml keeps tracing off by default (every
// Shortify service and the front door has SHORTIFY_TRACING=off, and the
// jaeger service is in the tracing profile only, so that it does not
// run); with SHORTIFY_TRACING=on and --profile tracing every one of them
// exports to the jaeger service by OTLP/HTTP under its role's service
// name, and Jaeger's UI is published on loopback only.
func TestComposeTracing(t *testing.T) {
	f := loadCompose(t)
	roles := 0
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		role := s.role()
		if role == "" {
			continue
		}
		roles++
		env := s.Environment
		if env["SHORTIFY_TRACING"] != "off" {
			t.Errorf("%s: SHORTIFY_TRACING=%q by default, want off", name, env["SHORTIFY_TRACING"])
		}
		if env["OTEL_SERVICE_NAME"] != "shortify-"+role {
			t.Errorf("%s: OTEL_SERVICE_NAME=%q, want shortify-%s", name, env["OTEL_SERVICE_NAME"], role)
		}
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4318" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want the jaeger service's OTLP/HTTP port", name, env["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
	}
	if roles < 8 {
		t.Errorf("%d Shortify services; want the 3 control-plane nodes, 2 edges, 2 stats and the front door", roles)
	}

	path := filepath.Join(composeDir, "compose.yaml")
	byDefault := loadComposeSpec(t)
	if _, ok := byDefault.Services["jaeger"]; ok {
		t.Error("the jaeger service runs without --profile tracing")
	}
	env := map[string]string{"SHORTIFY_TRACING": "on"}
	for k, v := range composeSecrets {
		env[k] = v
	}
	p, err := composeSpec(path, env, cli.WithProfiles([]string{"tracing"}))
	if err != nil {
		t.Fatalf("compose.yaml with --profile tracing: %v", err)
	}
	j, ok := p.Services["jaeger"]
	if !ok {
		t.Fatal("no jaeger service with --profile tracing")
	}
	if _, ok := j.Networks["shortify"]; !ok {
		t.Errorf("jaeger is not on the shortify network: %v", j.Networks)
	}
	if len(j.Ports) != 1 || j.Ports[0].Target != 16686 || j.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("jaeger publishes %+v; want its UI (16686) on 127.0.0.1 only", j.Ports)
	}
	on := 0
	for name, s := range p.Services {
		if v := s.Environment["SHORTIFY_TRACING"]; v != nil {
			if *v != "on" {
				t.Errorf("%s: SHORTIFY_TRACING=%q with SHORTIFY_TRACING=on in the environment", name, *v)
			}
			on++
		}
	}
	if on != roles {
		t.Errorf("%d services take SHORTIFY_TRACING, want the %d Shortify services", on, roles)
	}
}
