package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestBinary runs the built binary as a user would: the commands are
// Caddy subcommands of the one binary, and its exit codes are the CLI's.
func TestBinary(t *testing.T) {
	bin := testenv.Shortify(t)
	srv := serveSQLite(t)
	run := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), cli.EnvServer+"="+srv.URL, cli.EnvKey+"="+srv.Admin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			code = xe.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("shortify %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}

	out, _ := run(0, "links", "create", "https://example.com/from-the-shell", "--alias", "shell", "--tag", "cli")
	if !strings.Contains(out, "http://sho.test/shell") {
		t.Fatalf("links create printed:\n%s", out)
	}
	out, _ = run(0, "links", "list", "--json")
	var links []client.Link
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 || links[0].Code != "shell" || links[0].Tags[0] != "cli" {
		t.Fatalf("links list --json: %v\n%s", err, out)
	}
	out, errOut := run(cli.ExitRefused, "links", "create", "not a url")
	if out != "" || !strings.HasPrefix(errOut, "shortify: ") || !strings.Contains(errOut, "(field url) [HTTP 400]") {
		t.Fatalf("a refused create printed stdout %q, stderr %q", out, errOut)
	}
	_, errOut = run(cli.ExitUsage, "links", "list", "--colour")
	if !strings.Contains(errOut, "unknown flag: --colour") || !strings.Contains(errOut, "Run 'shortify links list --help' for usage.") {
		t.Fatalf("a bad flag printed %q", errOut)
	}
	out, _ = run(0, "links", "--help")
	if !strings.Contains(out, "shortify links [command]") || !strings.Contains(out, "--server") {
		t.Fatalf("links --help:\n%s", out)
	}
}
