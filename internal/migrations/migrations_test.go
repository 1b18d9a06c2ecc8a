package migrations

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("B")},
		"m/0001_first.sql": {Data: []byte("A")},
		"m/0010_tenth.sql": {Data: []byte("C")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{{1, "first", "A"}, {2, "more", "B"}, {10, "tenth", "C"}}
	if len(ms) != len(want) {
		t.Fatalf("got %v", ms)
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, ms[i], want[i])
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"no number":    {"m/first.sql": {}},
		"no name":      {"m/0001.sql": {}},
		"zero":         {"m/0000_zero.sql": {}},
		"not sql":      {"m/0001_a.txt": {}},
		"same version": {"m/0001_a.sql": {}, "m/001_b.sql": {}},
		"missing dir":  {"x/0001_a.sql": {}},
	}
	for name, fsys := range tests {
		if ms, err := Load(fsys, "m"); err == nil || !strings.HasPrefix(err.Error(), "migrations: ") {
			t.Errorf("%s: got %v, %v", name, ms, err)
		}
	}
}
