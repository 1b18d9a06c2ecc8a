package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestOutputIsPrintable: other people's text (a fetched title, notes, a
// server's error) reaches the terminal without control characters, and
// a table keeps its columns.
func TestOutputIsPrintable(t *testing.T) {
	var b bytes.Buffer
	tab := NewTable(&b, "CODE", "TITLE")
	tab.Row("abc", "evil\x1b]0;pwned\x07\ttitle\nsecond line\r")
	tab.Row("defgh", "ok")
	if err := tab.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fields(&b, "Notes", "line one\nline two\x1b[2J", "Empty", ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r\t") || strings.Contains(out, "Empty") {
		t.Fatalf("output %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "abc    evil ]0;pwned  title second line") || lines[3] != "Notes: line one line two [2J" {
		t.Fatalf("lines %q", lines)
	}
	if got := printable("caf\xe9"); got != "caf " {
		t.Fatalf("invalid UTF-8: %q", got)
	}
}
