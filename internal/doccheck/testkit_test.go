package doccheck

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// testkitImport is the import path prefix of the tests' and tools'
// scaffolding (internal/testkit).
const testkitImport = "github.com/shortify/shortify/internal/testkit"

// toolDirs may import internal/testkit from non-test code: they are tools
// and tests themselves, never part of the shipped binary.
var toolDirs = []string{"internal/testkit/", "cmd/shortify-stack/", "bench/", "e2e/"}

// TestShippedCodeDoesNotImportTestkit: no package of the shipped binary
// (anything but the tools above) imports the test scaffolding, so that
// test-only code (fixed passwords of test services, process control) can
// never end up in production through an import.
func TestShippedCodeDoesNotImportTestkit(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for rel, src := range sources(t) {
		if hasAnyPrefix(rel, toolDirs) {
			continue
		}
		f, err := parser.ParseFile(fset, rel, src, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == testkitImport || strings.HasPrefix(p, testkitImport+"/") {
				t.Errorf("%s imports %s: shipped code must not import the test scaffolding", rel, p)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: the source walk is broken", checked)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
