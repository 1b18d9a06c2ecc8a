package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Table writes aligned columns for people: rows are buffered until
// Flush, which aligns them.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table on w with the header given.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds a row; tabs and line breaks in a cell become spaces so that
// they cannot break the columns.
func (t *Table) Row(cells ...string) {
	for i, c := range cells {
		cells[i] = cellReplacer.Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// Flush writes the aligned rows.
func (t *Table) Flush() error { return t.tw.Flush() }

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// fields writes "name: value" lines, aligned, skipping empty values:
// one thing shown in detail.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[i], cellReplacer.Replace(kv[i+1]))
		}
	}
	return tw.Flush()
}

// shortTime is a time for a table: UTC to the minute, "" for zero.
func shortTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// ellipsis cuts s to n runes for a table column, marking the cut.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeJSONLine writes v as compact JSON without a line end: an element
// of a streamed array, or (with "\n") a line of JSON Lines.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
