package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A shell block in README.md or docs/ is fenced as ```sh run (the test
// runs it) or ```sh norun: <reason> (it needs something a test cannot
// give: a server in the foreground, Docker, the production stack).
var shellFence = regexp.MustCompile("^```(sh|bash|shell|console)\\b(.*)$")

// docBlock is one shell block of a document.
type docBlock struct {
	file string
	line int
	info string // what follows the language: run, or norun: reason
	text string
}

// docBlocks returns the shell blocks of README.md and of every document
// under docs/, in order.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	root := repoRoot(t)
	files := []string{filepath.Join(root, "README.md")}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	deeper, err := filepath.Glob(filepath.Join(root, "docs", "*", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(append(files, more...), deeper...)
	var blocks []docBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		var cur *docBlock
		inOther := false
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur != nil && strings.HasPrefix(line, "```"):
				blocks = append(blocks, *cur)
				cur = nil
			case cur != nil:
				cur.text += line + "\n"
			case inOther && strings.HasPrefix(line, "```"):
				inOther = false
			case inOther:
			case shellFence.MatchString(line):
				m := shellFence.FindStringSubmatch(line)
				cur = &docBlock{file: filepath.ToSlash(rel), line: n, info: strings.TrimSpace(m[2])}
			case strings.HasPrefix(line, "```"):
				inOther = true
			}
		}
	}
	return blocks
}

// docSetup prepares what a document's blocks take as given (a code of
// yours, the id of a key to retire), as environment variables.
var docSetup = map[string]func(t *testing.T, s *system) []string{
	"docs/api.md": func(t *testing.T, s *system) []string {
		return []string{"CODE=" + s.create("https://example.com/qr").Code}
	},
	"docs/stats.md": func(t *testing.T, s *system) []string {
		return []string{"CODE=" + s.create("https://example.com/stats").Code}
	},
	"docs/cli.md": func(t *testing.T, s *system) []string {
		// The first block exports these; each block is a shell of its own.
		return []string{"SHORTIFY_URL=" + s.base, "SHORTIFY_API_KEY=" + s.key}
	},
	"docs/operations.md": func(t *testing.T, s *system) []string {
		resp, body := s.request("POST", "/api/v1/admin/keys", `{"name":"ci bot 2026-10","role":"creator"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("a key to retire: %d %s", resp.StatusCode, body)
		}
		var k struct{ ID string }
		if err := json.Unmarshal(body, &k); err != nil {
			t.Fatal(err)
		}
		return []string{"OLD_ID=" + k.ID}
	},
}

// docExpect are outputs a document's blocks must print, and files they
// must leave in the working directory with how those files start.
var docExpect = map[string]struct {
	output []string
	files  map[string]string
}{
	"README.md": {
		output: []string{`"code":"tour"`, "302 Found", `"url":"https://example.com/some/long/path"`, "\n204\n"},
		files:  map[string]string{"tour.png": "\x89PNG"},
	},
	"docs/api.md": {files: map[string]string{"$CODE.png": "\x89PNG", "$CODE.svg": "<"}},
	"docs/cli.md": {
		output: []string{"/launch", "news,2027", "deleted launch", "spring-sale (link ", "Clicks:   0", `"totals"`, "Key:", "sk_", "ci bot", "creator"},
		files:  map[string]string{"links.csv": "url,alias,title,tags,expires_at,domain,code,created_at,clicks\n", "links.jsonl": `{"code":`},
	},
	"docs/cluster.md":    {files: map[string]string{"ca/ca.crt": "-----BEGIN CERTIFICATE", "node1-tls/node1.crt": "-----BEGIN CERTIFICATE"}},
	"docs/operations.md": {output: []string{`"role":"creator"`, `"key":"sk_`, "\n204\n"}},
	"docs/stats.md":      {output: []string{`"totals"`, `"top_links"`}},
}

// problem is an RFC 9457 answer of the API: a block that prints one has
// failed, whatever curl's exit code says.
var problem = regexp.MustCompile(`"status":\s*[45][0-9][0-9]`)

// TestDocCommands runs every ```sh run block of README.md and docs/ with
// bash against a fresh embedded default (the Caddyfile `make run` runs,
// on free ports: localhost:8080 in a block is rewritten to the server's
// address), one server per document, the blocks of a document in order,
// in a scratch working directory with the binary on PATH and KEY set to
// the first admin key. Every other shell block must say why it is not run.
func TestDocCommands(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash: %v", err)
	}
	byFile := map[string][]docBlock{}
	var order []string
	for _, b := range docBlocks(t) {
		switch {
		case b.info == "run":
			if byFile[b.file] == nil {
				order = append(order, b.file)
			}
			byFile[b.file] = append(byFile[b.file], b)
		case strings.HasPrefix(b.info, "norun:") && strings.TrimSpace(strings.TrimPrefix(b.info, "norun:")) != "":
		default:
			t.Errorf("%s:%d: a shell block must be fenced as ```sh run or ```sh norun: <reason>, got %q", b.file, b.line, b.info)
		}
	}
	for file := range docExpect {
		if byFile[file] == nil {
			t.Errorf("%s has no block to run, but the test expects some", file)
		}
	}
	for _, file := range order {
		t.Run(file, func(t *testing.T) {
			// Each document runs against a system of its own (its own
			// ports, directory and embedded store), so they run side by side.
			t.Parallel()
			s := start(t)
			work := t.TempDir()
			env := append(append([]string(nil), s.env...),
				"KEY="+s.key,
				"PATH="+filepath.Dir(binary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
			if setup := docSetup[file]; setup != nil {
				env = append(env, setup(t, s)...)
			}
			addr := strings.TrimPrefix(s.base, "http://")
			var out bytes.Buffer
			for _, b := range byFile[file] {
				script := strings.ReplaceAll(b.text, "localhost:8080", addr)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
				cmd.Dir = work
				cmd.Env = env
				got, err := cmd.CombinedOutput()
				cancel()
				if err != nil {
					t.Fatalf("%s:%d: %v\n%s\noutput:\n%s", b.file, b.line, err, b.text, got)
				}
				if problem.Match(got) {
					t.Errorf("%s:%d: the API refused a command:\n%s", b.file, b.line, got)
				}
				out.Write(got)
			}
			want := docExpect[file]
			for _, w := range want.output {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%s's commands did not print %q; they printed:\n%s", file, w, out.String())
				}
			}
			for name, prefix := range want.files {
				name = os.Expand(name, func(k string) string {
					for _, kv := range env {
						if v, ok := strings.CutPrefix(kv, k+"="); ok {
							return v
						}
					}
					return ""
				})
				b, err := os.ReadFile(filepath.Join(work, name))
				if err != nil || !bytes.HasPrefix(b, []byte(prefix)) {
					t.Errorf("%s's commands should leave %s starting with %q: %v %.40q", file, name, prefix, err, b)
				}
			}
		})
	}
}
