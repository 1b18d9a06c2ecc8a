package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A binary given by $SHORTIFY_TEST_BINARY is used only when tests can run
// it from any directory.
func TestGivenBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "shortify")
	plain := filepath.Join(dir, "plain")
	for path, mode := range map[string]os.FileMode{exe: 0o755, plain: 0o644} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path, err string
	}{
		{"executable", exe, ""},
		{"relative", "bin/shortify", "not an absolute path"},
		{"missing", filepath.Join(dir, "none"), "no such file"},
		{"directory", dir, "not an executable file"},
		{"not executable", plain, "not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := givenBinary(tc.path)
			if tc.err == "" {
				if err != nil || got != tc.path {
					t.Fatalf("givenBinary(%s) = %q, %v; want the path", tc.path, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), BinaryEnv) {
				t.Fatalf("givenBinary(%s) = %q, %v; want an error naming %s with %q", tc.path, got, err, BinaryEnv, tc.err)
			}
		})
	}
}
