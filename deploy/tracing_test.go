package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
