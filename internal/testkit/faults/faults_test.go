package faults

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestRecordAppendsOneLinePerRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.jsonl")
	t.Setenv(ReportEnv, path)
	Record(t, Row{Fault: "a", Expected: "b", Measured: "c"})
	Record(t, Row{Fault: "d", Expected: "e", Measured: "f"})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for _, line := range splitLines(data) {
		var r Row
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	want := []Row{
		{Test: t.Name(), Fault: "a", Expected: "b", Measured: "c"},
		{Test: t.Name(), Fault: "d", Expected: "e", Measured: "f"},
	}
	if len(rows) != len(want) || rows[0] != want[0] || rows[1] != want[1] {
		t.Fatalf("rows = %+v, want %+v", rows, want)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return out
}
