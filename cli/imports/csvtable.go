package imports

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvTable reads a CSV file whose columns are found by their header
// names, row by row (the row's slice is reused).
type csvTable struct {
	r    *csv.Reader
	idx  map[string]int // normalised header name -> column
	cols int
	row  []string
	line int
	// pending is a first row that turned out to be data, not a header
	// (headerless exports, see openCSVTable).
	pending []string
}

// lineLimiter fails a read once a line passes maxRecordBytes, so that a
// file without line breaks cannot grow the CSV reader's buffer without
// bound.
type lineLimiter struct {
	r   io.Reader
	run int
}

// errLongLine is a line longer than maxRecordBytes.
var errLongLine = fmt.Errorf("a line is longer than %d bytes", maxRecordBytes)

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.run = 0
		} else if l.run++; l.run > maxRecordBytes {
			return 0, errLongLine
		}
	}
	return n, err
}

// sniffComma picks the delimiter of the header line: ',' unless the line
// holds more ';' or tabs (spreadsheets in some locales write ';').
func sniffComma(br *bufio.Reader) rune {
	head, _ := br.Peek(4096)
	line, _, _ := strings.Cut(string(head), "\n")
	comma, best := ',', strings.Count(line, ",")
	for _, c := range []rune{';', '\t'} {
		if n := strings.Count(line, string(c)); n > best {
			comma, best = c, n
		}
	}
	return comma
}

// openCSVTable reads the header of br. known lists the column names the
// format knows (normalised); when the first row names none of them and
// positional is set, the file has no header and positional names its
// columns in order. required are columns (any one of each group) that
// must be present.
func openCSVTable(br *bufio.Reader, known []string, positional []string, required ...[]string) (*csvTable, error) {
	r := csv.NewReader(&lineLimiter{r: br})
	r.Comma = sniffComma(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		return nil, fmt.Errorf("read the header: %w", err)
	}
	t := &csvTable{r: r, idx: make(map[string]int, len(head)), cols: len(head), line: 1}
	isKnown := make(map[string]bool, len(known))
	for _, k := range known {
		isKnown[k] = true
	}
	matched := 0
	for i, h := range head {
		n := normHeader(h)
		if _, dup := t.idx[n]; dup && isKnown[n] {
			return nil, fmt.Errorf("line 1: the column %q appears twice", strings.TrimSpace(h))
		}
		t.idx[n] = i
		if isKnown[n] {
			matched++
		}
	}
	if matched == 0 && positional != nil {
		t.pending = append([]string(nil), head...)
		clear(t.idx)
		for i, n := range positional {
			t.idx[n] = i
		}
		t.cols = len(positional)
	}
	for _, group := range required {
		if !t.has(group...) {
			return nil, fmt.Errorf("line 1: the header has no %s column (it has: %s)", strings.Join(group, " or "), strings.Join(head, ", "))
		}
	}
	return t, nil
}

func (t *csvTable) has(names ...string) bool {
	for _, n := range names {
		if _, ok := t.idx[n]; ok {
			return true
		}
	}
	return false
}

// next reads the next row into t.row. A *LineError is one bad row;
// io.EOF ends the file; other errors end the stream.
func (t *csvTable) next() error {
	if t.pending != nil {
		t.row, t.pending = t.pending, nil
		t.line = 1
		return t.checkWidth()
	}
	row, err := t.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && !errors.Is(err, errLongLine) {
			return &LineError{Line: pe.StartLine, Reason: "bad CSV: " + pe.Err.Error()}
		}
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("after line %d: %w", t.line, err)
	}
	t.row = row
	t.line, _ = t.r.FieldPos(0)
	return t.checkWidth()
}

func (t *csvTable) checkWidth() error {
	if len(t.row) == 1 && strings.TrimSpace(t.row[0]) == "" && t.cols > 1 {
		return &LineError{Line: t.line, Reason: "an empty line"}
	}
	if len(t.row) != t.cols {
		return &LineError{Line: t.line, Reason: fmt.Sprintf("%d fields where the header has %d (a comma in an unquoted field?)", len(t.row), t.cols)}
	}
	return nil
}

// get is the trimmed value of the first of names the header has.
func (t *csvTable) get(names ...string) string {
	for _, n := range names {
		if i, ok := t.idx[n]; ok && i < len(t.row) {
			return strings.TrimSpace(t.row[i])
		}
	}
	return ""
}
