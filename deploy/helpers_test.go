package deploy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // the Caddyfile adapter and the standard directives
	"gopkg.in/yaml.v3"

	_ "github.com/shortify/shortify" // every Shortify module, as the image has them
)

// roleMount is where the image's command reads a role's Caddyfile in both
// compose and Kubernetes; cluster/ snippets sit beside it.
const roleMount = "/etc/shortify/role"

// readYAML decodes the one YAML document in path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// composeVar matches the interpolations compose knows: ${VAR}, ${VAR:-d},
// ${VAR-d}, ${VAR:?msg}, ${VAR?msg}, and $$.
var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}`)

// interpolate resolves compose's variables as `docker compose config` does
// on a machine with none of them set: the defaults. A variable without a
// default would make the file depend on the operator's environment, so it
// is an error, as are required ones.
// requiredSecrets are the variables compose.yaml requires (${VAR:?}): the
// secrets without a default, for which `docker compose` refuses to start.
// The tests load the file with these stand-ins set.
var requiredSecrets = map[string]string{
	"SHORTIFY_KAFKA_ADMIN_PASSWORD":        "stand-in-admin",
	"SHORTIFY_KAFKA_CONTROLPLANE_PASSWORD": "stand-in-controlplane",
	"SHORTIFY_KAFKA_EDGE_PASSWORD":         "stand-in-edge",
	"SHORTIFY_KAFKA_STATS_PASSWORD":        "stand-in-stats",
}

func interpolate(text string) (string, error) {
	var errs []error
	out := composeVar.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		switch {
		case sub[2] != "":
			return sub[3]
		case sub[4] != "" && requiredSecrets[sub[1]] != "":
			return requiredSecrets[sub[1]]
		case sub[4] != "":
			errs = append(errs, fmt.Errorf("%s is required (%s)", sub[1], sub[5]))
		default:
			errs = append(errs, fmt.Errorf("%s has no default", sub[1]))
		}
		return ""
	})
	return out, errors.Join(errs...)
}

// adapted is a Caddy config adapted from a role Caddyfile, as generic JSON.
type adapted map[string]any

// adaptCaddyfile adapts the Caddyfile at path with env as the process
// environment (Caddyfile {$VAR}s read it while adapting). Files named in
// extra (relative path -> source file) are copied beside it first, as the
// deployment mounts them.
func adaptCaddyfile(t *testing.T, path string, env map[string]string, extra map[string]string) (adapted, error) {
	t.Helper()
	dir := t.TempDir()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, filepath.Join(dir, "Caddyfile"))
	for rel, src := range extra {
		copyFile(t, src, filepath.Join(dir, rel))
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SHORTIFY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("no caddyfile adapter registered")
	}
	out, warnings, err := adapter.Adapt(body, map[string]any{"filename": filepath.Join(dir, "Caddyfile")})
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		t.Errorf("%s: adapt warning: %s:%d: %s", path, w.File, w.Line, w.Message)
	}
	var cfg adapted
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("%s: adapted JSON: %v", path, err)
	}
	return cfg, nil
}

// adaptRole adapts a role Caddyfile as adaptCaddyfile does and reports
// a failure; it returns nil then.
func adaptRole(t *testing.T, where, path string, env, extra map[string]string) adapted {
	t.Helper()
	cfg, err := adaptCaddyfile(t, path, env, extra)
	if err != nil {
		t.Errorf("%s: %s: %v", where, path, err)
		return nil
	}
	return cfg
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// at walks generic JSON: each key indexes a map, each int a slice. It
// returns nil when the path does not exist.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// handlers returns every handler object in cfg's HTTP servers (nested
// subroutes included), with the name of the server it is in.
func handlers(cfg adapted) map[string][]map[string]any {
	out := make(map[string][]map[string]any)
	servers, _ := at(map[string]any(cfg), "apps", "http", "servers").(map[string]any)
	for name, srv := range servers {
		var walk func(routes any)
		walk = func(routes any) {
			rs, _ := routes.([]any)
			for _, r := range rs {
				hs, _ := at(r, "handle").([]any)
				for _, h := range hs {
					hm, _ := h.(map[string]any)
					out[name] = append(out[name], hm)
					walk(hm["routes"])
				}
			}
		}
		walk(at(srv, "routes"))
	}
	return out
}

// checkOpsServer checks the operations server every Shortify process
// has: :9180 with Prometheus metrics and /healthz.
func checkOpsServer(t *testing.T, where string, cfg adapted) {
	t.Helper()
	listen := at(map[string]any(cfg), "apps", "http", "servers", "ops", "listen", 0)
	if listen != ":9180" {
		t.Errorf("%s: no ops server on :9180 (got %v)", where, listen)
	}
	metrics := false
	for _, h := range handlers(cfg)["ops"] {
		if h["handler"] == "metrics" {
			metrics = true
		}
	}
	if !metrics {
		t.Errorf("%s: the ops server serves no metrics", where)
	}
}

// repoRoot is the repository's root, from this package's directory.
const repoRoot = ".."

// goList runs `go list` with args and returns its trimmed output.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}
