package imports

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sqlDump reads the rows of INSERT (or REPLACE) statements into one table
// of a MySQL dump, as mysqldump and phpMyAdmin write them: extended
// inserts of many rows, an optional column list, '…' strings with
// backslash escapes and doubled quotes, NULL, numbers, 0x… and X'…' hex
// literals, _charset introducers. Every other statement and comment is
// skipped. It reads byte by byte and keeps one row.
type sqlDump struct {
	br    *bufio.Reader
	line  int
	table func(name string) bool // the table whose rows are wanted
	cols  []string               // this INSERT's column list (nil: the table's order)
	in    bool                   // inside a VALUES list
}

// sqlRow is one row: its values (nil for NULL) and the line it starts on.
type sqlRow struct {
	line int
	vals []*string
	cols []string
	bad  string // why the row cannot be used, though it was read
}

func newSQLDump(br *bufio.Reader, table func(string) bool) *sqlDump {
	return &sqlDump{br: br, line: 1, table: table}
}

func (d *sqlDump) read() (byte, error) {
	c, err := d.br.ReadByte()
	if c == '\n' {
		d.line++
	}
	return c, err
}

func (d *sqlDump) unread(c byte) {
	d.br.UnreadByte() //nolint:errcheck // follows a successful ReadByte
	if c == '\n' {
		d.line--
	}
}

func (d *sqlDump) syntax(format string, args ...any) error {
	return fmt.Errorf("line %d: bad SQL: %s", d.line, fmt.Sprintf(format, args...))
}

// space skips white space and comments; io.EOF at the end.
func (d *sqlDump) space() error {
	for {
		c, err := d.read()
		if err != nil {
			return err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '#':
			if err := d.toEOL(); err != nil {
				return err
			}
			continue
		case '-':
			n, err := d.br.Peek(1)
			if err == nil && n[0] == '-' {
				if err := d.toEOL(); err != nil {
					return err
				}
				continue
			}
		case '/':
			n, err := d.br.Peek(1)
			if err == nil && n[0] == '*' {
				d.read() //nolint:errcheck // peeked
				if err := d.blockComment(); err != nil {
					return err
				}
				continue
			}
		}
		d.unread(c)
		return nil
	}
}

func (d *sqlDump) toEOL() error {
	for {
		c, err := d.read()
		if err != nil || c == '\n' {
			return err
		}
	}
}

func (d *sqlDump) blockComment() error {
	var prev byte
	for {
		c, err := d.read()
		if err != nil {
			return d.syntax("a /* comment is not closed")
		}
		if prev == '*' && c == '/' {
			return nil
		}
		prev = c
	}
}

// word reads a bare word or a `quoted` identifier; "" when the next byte
// starts neither.
func (d *sqlDump) word() (string, error) {
	if err := d.space(); err != nil {
		return "", err
	}
	c, err := d.read()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if c == '`' {
		for {
			c, err := d.read()
			if err != nil {
				return "", d.syntax("an identifier is not closed")
			}
			if c == '`' {
				if n, err := d.br.Peek(1); err == nil && n[0] == '`' {
					d.read() //nolint:errcheck // peeked
				} else {
					return b.String(), nil
				}
			}
			if b.Len() > 256 {
				return "", d.syntax("an identifier is too long")
			}
			b.WriteByte(c)
		}
	}
	for isWordByte(c) {
		if b.Len() > 256 {
			return "", d.syntax("a word is too long")
		}
		b.WriteByte(c)
		if c, err = d.read(); err != nil {
			return b.String(), nil
		}
	}
	d.unread(c)
	return b.String(), nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipStatement reads up to the ';' that ends the statement, stepping
// over strings, identifiers and comments.
func (d *sqlDump) skipStatement() error {
	for {
		if err := d.space(); err != nil {
			return err
		}
		c, err := d.read()
		if err != nil {
			return err
		}
		switch c {
		case ';':
			return nil
		case '\'', '"':
			if _, _, err := d.str(c); err != nil {
				return err
			}
		case '`':
			d.unread(c)
			if _, err := d.word(); err != nil {
				return err
			}
		}
	}
}

// str reads a string after its opening quote q. The bool says it was cut
// at maxRecordBytes (the rest is read and dropped).
func (d *sqlDump) str(q byte) (string, bool, error) {
	var b strings.Builder
	cut := false
	put := func(c byte) {
		if b.Len() < maxRecordBytes {
			b.WriteByte(c)
		} else {
			cut = true
		}
	}
	for {
		c, err := d.read()
		if err != nil {
			return "", false, d.syntax("a string is not closed")
		}
		switch c {
		case q:
			if n, err := d.br.Peek(1); err == nil && n[0] == q {
				d.read() //nolint:errcheck // peeked
				put(q)
				continue
			}
			return b.String(), cut, nil
		case '\\':
			e, err := d.read()
			if err != nil {
				return "", false, d.syntax("a string is not closed")
			}
			switch e {
			case '0':
				put(0)
			case 'b':
				put('\b')
			case 'n':
				put('\n')
			case 'r':
				put('\r')
			case 't':
				put('\t')
			case 'Z':
				put(0x1a)
			case '%', '_': // MySQL keeps the backslash of these two
				put('\\')
				put(e)
			default:
				put(e)
			}
		default:
			put(c)
		}
	}
}

// value reads one value of a row: a string, NULL, a number or a hex
// literal (nil for NULL).
func (d *sqlDump) value() (*string, bool, error) {
	if err := d.space(); err != nil {
		return nil, false, d.syntax("the INSERT ends early")
	}
	c, err := d.read()
	if err != nil {
		return nil, false, d.syntax("the INSERT ends early")
	}
	if c == '\'' || c == '"' {
		s, cut, err := d.str(c)
		return &s, cut, err
	}
	d.unread(c)
	w, err := d.word()
	if err != nil {
		return nil, false, err
	}
	switch up := strings.ToUpper(w); {
	case w == "" && c == '-' || w == "" && c == '+':
		d.read() //nolint:errcheck // the sign, peeked above
		n, err := d.word()
		if err != nil || n == "" {
			return nil, false, d.syntax("a sign without a number")
		}
		s := string(c) + n
		return &s, false, nil
	case w == "":
		return nil, false, d.syntax("unexpected %q in the values", c)
	case up == "NULL":
		return nil, false, nil
	case strings.HasPrefix(up, "0X"):
		b, err := hex.DecodeString(w[2:])
		if err != nil {
			return nil, false, d.syntax("bad hex literal")
		}
		s := string(b)
		return &s, false, nil
	case (up == "X" || up == "B" || strings.HasPrefix(w, "_")) && d.peekQuote():
		q, _ := d.read()
		s, cut, err := d.str(q)
		if err == nil && up == "X" {
			b, herr := hex.DecodeString(s)
			if herr != nil {
				return nil, false, d.syntax("bad hex literal")
			}
			s = string(b)
		}
		return &s, cut, err
	}
	return &w, false, nil // a number, or a word such as CURRENT_TIMESTAMP
}

func (d *sqlDump) peekQuote() bool {
	if err := d.space(); err != nil {
		return false
	}
	n, err := d.br.Peek(1)
	return err == nil && (n[0] == '\'' || n[0] == '"')
}

func (d *sqlDump) expect(want byte) error {
	if err := d.space(); err != nil {
		return d.syntax("expected %q, the file ends", want)
	}
	c, err := d.read()
	if err != nil || c != want {
		return d.syntax("expected %q, found %q", want, c)
	}
	return nil
}

// next returns the next row of the wanted table; io.EOF at the end.
func (d *sqlDump) next() (sqlRow, error) {
	for !d.in {
		if err := d.startInsert(); err != nil {
			return sqlRow{}, err
		}
	}
	if err := d.expect('('); err != nil {
		return sqlRow{}, err
	}
	row := sqlRow{line: d.line, cols: d.cols}
	for {
		v, cut, err := d.value()
		if err != nil {
			return sqlRow{}, err
		}
		if cut && row.bad == "" {
			row.bad = fmt.Sprintf("a value is longer than %d bytes", maxRecordBytes)
		}
		if len(row.vals) < 64 {
			row.vals = append(row.vals, v)
		} else if row.bad == "" {
			row.bad = "the row has more than 64 values"
		}
		if err := d.space(); err != nil {
			return sqlRow{}, d.syntax("the INSERT ends early")
		}
		c, _ := d.read()
		if c == ')' {
			break
		}
		if c != ',' {
			return sqlRow{}, d.syntax("expected ',' or ')' after a value, found %q", c)
		}
	}
	if err := d.space(); err != nil && !errors.Is(err, io.EOF) {
		return sqlRow{}, err
	}
	c, err := d.read()
	switch {
	case err != nil: // a dump cut after its last row: take the row
		d.in = false
	case c == ';':
		d.in = false
	case c == ',':
	default:
		return sqlRow{}, d.syntax("expected ',' or ';' after a row, found %q", c)
	}
	return row, nil
}

// startInsert reads the next statement: the head of an INSERT into the
// wanted table (d.in set), or any other statement, skipped.
func (d *sqlDump) startInsert() error {
	w, err := d.word()
	if err != nil {
		return err
	}
	if w == "" {
		if c, err := d.read(); err == nil && c == ';' {
			return nil
		} else if err == nil {
			d.unread(c)
		}
		return d.skipStatement()
	}
	up := strings.ToUpper(w)
	if up != "INSERT" && up != "REPLACE" {
		return d.skipStatement()
	}
	for {
		if w, err = d.word(); err != nil {
			return d.syntax("the INSERT ends early")
		}
		switch strings.ToUpper(w) {
		case "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO":
			continue
		}
		break
	}
	if !d.table(w) {
		return d.skipStatement()
	}
	d.cols = nil
	if err := d.space(); err != nil {
		return d.syntax("the INSERT ends early")
	}
	if n, err := d.br.Peek(1); err == nil && n[0] == '(' {
		d.read() //nolint:errcheck // peeked
		for {
			col, err := d.word()
			if err != nil || col == "" {
				return d.syntax("bad column list")
			}
			if len(d.cols) >= 64 {
				return d.syntax("more than 64 columns")
			}
			d.cols = append(d.cols, strings.ToLower(col))
			if err := d.space(); err != nil {
				return d.syntax("the INSERT ends early")
			}
			c, _ := d.read()
			if c == ')' {
				break
			}
			if c != ',' {
				return d.syntax("expected ',' or ')' in the column list, found %q", c)
			}
		}
	}
	kw, err := d.word()
	if err != nil || (!strings.EqualFold(kw, "VALUES") && !strings.EqualFold(kw, "VALUE")) {
		return d.syntax("expected VALUES after INSERT INTO %s", w)
	}
	d.in = true
	return nil
}
