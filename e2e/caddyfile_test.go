package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/shortify/shortify" // every Shortify module, as the binary has them
)

var update = flag.Bool("update", false, "rewrite testdata/Caddyfile.json")

// TestCaddyfileGolden: the repository's Caddyfile, with no environment set
// (the embedded default of `make run`), adapts to the JSON in testdata/.
// A change to the Caddyfile or to a module's Caddyfile syntax shows up here
// as a reviewable diff (go test ./e2e/ -run Golden -update).
func TestCaddyfileGolden(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SHORTIFY_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warnings, err := adapter.Adapt(src, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w.String())
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "Caddyfile.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("the Caddyfile adapts to\n%s\nwant (%s)\n%s", pretty.Bytes(), golden, want)
	}
}
