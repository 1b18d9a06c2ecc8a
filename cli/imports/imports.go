// Package imports reads the link exports of other URL shorteners (Bitly,
// YOURLS, Kutt, Shlink) and Shortify's plain CSV as one stream of Records,
// for `shortify import`. Every reader streams: it holds one record (and a
// bounded read-ahead) in memory, whatever the size of the file, and says
// which line of the file a bad record is on.
package imports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Record is one link read from an export.
type Record struct {
	// Line is the line of the file the record starts on (1-based), for
	// messages.
	Line int
	// URL is the link's target.
	URL string
	// Alias is the link's code in the source ("" when the source has
	// none); the importer keeps it when Shortify accepts and has it free.
	Alias string
	// Title, Tags and ExpiresAt (zero: none) carry over to the link.
	Title     string
	Tags      []string
	ExpiresAt time.Time
	// Domain is the short link's host in the source ("" when the export
	// does not say). In the plain CSV it is the Shortify domain the link
	// is created on; elsewhere it only names the source (see SourceKey).
	Domain string
	// CreatedAt is when the source created the link (zero: not given).
	CreatedAt time.Time
	// SourceKey identifies the record's link in its source:
	// "<format>:<domain>/<code>", or "<format>:<url>" for a link without
	// a code. The importer sends it as the link's external_id (see
	// ExternalID), which is what makes a second run create nothing.
	SourceKey string
}

// Format names an export format.
type Format string

// The formats Open reads.
const (
	CSV    Format = "csv"
	Bitly  Format = "bitly"
	YOURLS Format = "yourls"
	Kutt   Format = "kutt"
	Shlink Format = "shlink"
)

// Formats lists every format, in the order the help text names them.
var Formats = []Format{CSV, Bitly, YOURLS, Kutt, Shlink}

// Options tune a reader.
type Options struct {
	// SourceDomain is the source's short domain for exports that do not
	// name it (YOURLS, and links whose domain is null in Kutt or Shlink
	// without a short URL): it goes into SourceKey.
	SourceDomain string
}

// Reader yields the records of one export.
type Reader interface {
	// Next returns the next record, or io.EOF after the last. A
	// *LineError is about one record: the reader has skipped it and
	// Next may be called again. Any other error ends the stream.
	Next() (Record, error)
}

// LineError is a record that cannot be imported: the line it starts on
// and why.
type LineError struct {
	Line   int
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// maxRecordBytes bounds what one record may take of the input (a CSV line,
// a JSON item, a SQL row), so that memory stays bounded on hostile files.
const maxRecordBytes = 1 << 20

// Open returns a reader of format f over r. YOURLS reads its SQL dump or
// its CSV export; Bitly, Kutt and Shlink their API's JSON answers (one or
// several pages, concatenated) or a CSV export: Open tells them apart by
// the first bytes.
func Open(f Format, r io.Reader, opts Options) (Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	switch f {
	case CSV:
		return newPlainCSV(br)
	case Bitly:
		if first == '{' || first == '[' {
			return newBitlyJSON(br, opts), nil
		}
		return newBitlyCSV(br, opts)
	case YOURLS:
		if looksLikeSQL(br) {
			return newYOURLSSQL(br, opts), nil
		}
		return newYOURLSCSV(br, opts)
	case Kutt:
		if first == '{' || first == '[' {
			return newKuttJSON(br, opts), nil
		}
		return newKuttCSV(br, opts)
	case Shlink:
		if first == '{' || first == '[' {
			return newShlinkJSON(br, opts), nil
		}
		return newShlinkCSV(br, opts)
	}
	return nil, fmt.Errorf("unknown format %q (use one of %s)", f, formatList())
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (use one of %s)", s, formatList())
}

// errEmpty is an input without a byte other than white space.
var errEmpty = errors.New("the file is empty")

// firstByte is the first byte of br that is not white space or a UTF-8
// byte-order mark, left unread.
func firstByte(br *bufio.Reader) (byte, error) {
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		br.Discard(3) //nolint:errcheck // peeked: cannot fail
	}
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF || err == nil {
				return 0, errEmpty
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return ' ', nil // 64 KiB of white space: let the parser say what is wrong
			}
			return 0, fmt.Errorf("read: %w", err)
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
}

// looksLikeSQL reports whether the buffered start of br is SQL (a
// comment, a SET, CREATE, INSERT, LOCK, DROP or /*! line) rather than CSV.
func looksLikeSQL(br *bufio.Reader) bool {
	head, _ := br.Peek(4096)
	s := strings.ToUpper(strings.TrimLeft(string(head), " \t\r\n"))
	for _, p := range []string{"--", "/*", "#", "SET ", "CREATE ", "INSERT ", "LOCK ", "DROP ", "USE ", "START ", "BEGIN"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
