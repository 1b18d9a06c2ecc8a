package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root, two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// sources maps each non-test Go file of the repository (relative path,
// slash-separated) to its text, skipping the tests' and tools' trees that
// define no module.
func sources(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "data" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// docs is the text of every Markdown file under docs/ (not README.md:
// the README only points there).
func docs(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(filepath.Join(repoRoot(t), "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := os.ReadFile(path)
		sb.Write(b)
		sb.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

var (
	// caseLabels finds the string labels of a switch case.
	caseLabels = regexp.MustCompile(`(?m)^\s*case ((?:"[a-z_0-9]+",?\s*)+):`)
	quoted     = regexp.MustCompile(`"([a-z_0-9]+)"`)
	// routes finds an API route registration: h.handle("METHOD /path", ...).
	routes = regexp.MustCompile(`\.handle\("([A-Z]+) (/[^"]*)"`)
	// Metric names: a Name field, a BuildFQName's last argument, or a
	// helper's name argument followed by its help text (capitalised).
	metricName = regexp.MustCompile(`Name: "([a-z][a-z0-9_]*)"|BuildFQName\([^,]+,[^,]+, *"([a-z][a-z0-9_]*)"\)|\("([a-z][a-z0-9_]*)",\s*"[A-Z]`)
)

// caddyfileOptions returns the subdirective names that the Caddyfile
// parsers accept: the case labels of every file that parses a Caddyfile.
func caddyfileOptions(src map[string]string) map[string][]string {
	opts := map[string][]string{}
	for path, text := range src {
		if !strings.Contains(text, "caddyfile.Dispenser") {
			continue
		}
		for _, m := range caseLabels.FindAllStringSubmatch(text, -1) {
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				opts[q[1]] = append(opts[q[1]], path)
			}
		}
	}
	return opts
}

// TestOptionsDocumented: every Caddyfile subdirective a module parses is
// named in docs/ as a word.
func TestOptionsDocumented(t *testing.T) {
	d := docs(t)
	opts := caddyfileOptions(sources(t))
	if len(opts) < 50 {
		t.Fatalf("found only %d Caddyfile options: has the parsing moved out of reach of this check?", len(opts))
	}
	for name, where := range opts {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(d) {
			t.Errorf("Caddyfile option %q (parsed in %v) is not documented under docs/", name, where)
		}
	}
}

// TestRoutesDocumented: every route the control plane's API and the stats
// API register is named in docs/ by its path.
func TestRoutesDocumented(t *testing.T) {
	d := docs(t)
	n := 0
	for path, text := range sources(t) {
		for _, m := range routes.FindAllStringSubmatch(text, -1) {
			n++
			if !strings.Contains(d, m[2]) {
				t.Errorf("route %s %s (%s) is not documented under docs/", m[1], m[2], path)
			}
		}
	}
	if n < 25 {
		t.Fatalf("found only %d routes: has the registration changed form?", n)
	}
}

// subsystem is the metric subsystem of a source file's top-level folder.
var subsystem = map[string]string{"caddymodule": "edge", "controlplane": "cp", "stats": "stats", "webhooks": "webhooks"}

// TestMetricsDocumented: every shortify_* metric the code defines is named
// in docs/.
func TestMetricsDocumented(t *testing.T) {
	d := docs(t)
	var names []string
	for path, text := range sources(t) {
		sub, ok := subsystem[strings.Split(path, "/")[0]]
		if !ok || !strings.Contains(text, "prometheus.") {
			continue
		}
		for _, m := range metricName.FindAllStringSubmatch(text, -1) {
			name := "shortify_" + sub + "_" + m[1] + m[2] + m[3]
			names = append(names, name)
			if !strings.Contains(d, name) {
				t.Errorf("metric %s (%s) is not documented under docs/", name, path)
			}
		}
	}
	if len(names) < 40 {
		slices.Sort(names)
		t.Fatalf("found only %d metrics (%v): has their definition changed form?", len(names), names)
	}
}

// TestReadmeLinksEveryDoc: the README links every file under docs/, and
// every docs/ link in it resolves.
func TestReadmeLinksEveryDoc(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if n := strings.Count(readme, "\n"); n > 300 {
		t.Errorf("README.md has %d lines; a newcomer's five minutes hold at most 300", n)
	}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !strings.Contains(readme, "("+filepath.ToSlash(rel)+")") {
			t.Errorf("README.md does not link %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(((?:docs/|LICENSE)[^)#]*)`).FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
			t.Errorf("README.md links %s: %v", m[1], err)
		}
	}
}
