// Package threatlist reads threat feeds (URLhaus and OpenPhish text feeds,
// PhishTank CSV, plain lists of domains or URLs) and matches target URLs
// against the merged result.
//
// Entries are of two kinds: a host blocks itself and its subdomains; a URL
// blocks that URL only (whatever its scheme and fragment), so that one
// phishing page on a shared host does not block the whole host. Feed URLs
// are normalised as internal/targeturl normalises link targets, so that a
// listed URL matches the stored target byte for byte.
//
// Parsing is bounded: lines longer than MaxLineLength are skipped, and a
// feed keeps at most its entry cap; what was cut is counted, never fatal.
package threatlist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/shortify/shortify/internal/targeturl"
)

// Format is the syntax of a feed.
type Format string

// The feed formats.
const (
	// URLhaus is abuse.ch's text feed: one URL a line, '#' comments.
	URLhaus Format = "urlhaus"
	// OpenPhish is OpenPhish's text feed: one URL a line.
	OpenPhish Format = "openphish"
	// PhishTank is PhishTank's CSV: a header row naming a "url" column.
	PhishTank Format = "phishtank"
	// Plain is a list of domains or URLs, one a line, '#' comments.
	Plain Format = "plain"
)

// Formats are the formats Parse reads, for error messages and docs.
var Formats = []Format{URLhaus, OpenPhish, PhishTank, Plain}

// ParseFormat returns the Format named s, or an error naming the choices.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("threat feed format %q is not one of urlhaus, openphish, phishtank, plain", s)
}

// Bounds of a feed.
const (
	// MaxLineLength is the longest line read; longer lines are skipped
	// (no link target is longer than targeturl's 32 KiB ceiling).
	MaxLineLength = 32 << 10
	// DefaultMaxEntries caps the entries kept from one feed.
	DefaultMaxEntries = 1_000_000
)

// Kind is what an entry blocks.
type Kind string

// The kinds of entries.
const (
	// Host blocks a host and its subdomains.
	Host Kind = "host"
	// URL blocks one normalised URL (its key, see URLKey).
	URL Kind = "url"
)

// Entry is one blocked host or URL. Value is a lower-case ASCII host for
// Host, a URLKey for URL.
type Entry struct {
	Kind  Kind
	Value string
}

// List is a parsed feed.
type List struct {
	Entries []Entry
	// Skipped counts lines that were neither blank, comments nor a valid
	// entry (including overlong lines).
	Skipped int
	// Truncated is set when the feed had more entries than the cap.
	Truncated bool
}

// ErrNoURLColumn means a PhishTank CSV's header names no url column.
var ErrNoURLColumn = errors.New("threatlist: the CSV header has no url column")

// Parse reads a feed of the format from r, keeping at most maxEntries
// entries (0: DefaultMaxEntries). Only a read error or a CSV without a url
// column fails it; bad lines are skipped and counted.
func Parse(r io.Reader, format Format, maxEntries int) (List, error) {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	var l List
	seen := make(map[Entry]struct{})
	urlCol := -1
	header := format == PhishTank
	err := eachLine(r, func(line []byte, tooLong bool) bool {
		if tooLong {
			l.Skipped++
			return true
		}
		s := strings.TrimSpace(string(line))
		if s == "" || (format != PhishTank && s[0] == '#') {
			return true
		}
		if header {
			header = false
			for i, f := range splitCSV(s) {
				if strings.EqualFold(strings.TrimSpace(f), "url") {
					urlCol = i
					break
				}
			}
			return urlCol >= 0
		}
		var e Entry
		var ok bool
		switch format {
		case PhishTank:
			if fields := splitCSV(s); urlCol < len(fields) {
				e, ok = URLEntry(fields[urlCol])
			}
		case Plain:
			e, ok = PlainEntry(s)
		default:
			e, ok = URLEntry(s)
		}
		if !ok {
			l.Skipped++
			return true
		}
		if _, dup := seen[e]; dup {
			return true
		}
		if len(l.Entries) == maxEntries {
			l.Truncated = true
			return false
		}
		seen[e] = struct{}{}
		l.Entries = append(l.Entries, e)
		return true
	})
	if err != nil {
		return List{}, err
	}
	if format == PhishTank && urlCol < 0 {
		return List{}, ErrNoURLColumn
	}
	return l, nil
}

// eachLine calls fn with every line of r (without its line ending), or
// with tooLong set for a line past MaxLineLength, which is skipped without
// being held in memory, until fn returns false.
func eachLine(r io.Reader, fn func(line []byte, tooLong bool) bool) error {
	br := bufio.NewReaderSize(r, MaxLineLength+1)
	for {
		line, err := br.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			tooLong = true
			for errors.Is(err, bufio.ErrBufferFull) { // drop the rest of the line
				_, err = br.ReadSlice('\n')
			}
		}
		if len(line) > 0 || tooLong {
			line = bytes.TrimRight(line, "\r\n")
			if !fn(line, tooLong) {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("threatlist: read: %w", err)
		}
	}
}

// policy normalises feed URLs the way the control plane normalises link
// targets (scheme and host in lower case, IDNs in their ASCII form), with
// no refusals beyond what cannot be a target at all.
var policy = targeturl.Policy{MaxLength: MaxLineLength}

// URLEntry is the URL entry of raw, a URL from a feed; ok is false when raw
// could never be a link target (not http or https, no host, ...).
func URLEntry(raw string) (Entry, bool) {
	n, err := policy.Check(strings.TrimSpace(raw))
	if err != nil {
		return Entry{}, false
	}
	return Entry{Kind: URL, Value: URLKey(n)}, true
}

// PlainEntry is the entry of a line of a plain list: a URL (with "://"),
// or a domain, which blocks its subdomains too.
func PlainEntry(s string) (Entry, bool) {
	if strings.Contains(s, "://") {
		return URLEntry(s)
	}
	host, ok := NormaliseHost(s)
	if !ok {
		return Entry{}, false
	}
	return Entry{Kind: Host, Value: host}, true
}

// NormaliseHost returns a domain as targets store their hosts (lower case,
// IDNs in their ASCII form, no trailing dot); ok is false for anything
// that is not a bare host name or address.
func NormaliseHost(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" || strings.ContainsAny(s, "/?#@:[]\\") {
		return "", false
	}
	n, err := policy.Check("http://" + s + "/")
	if err != nil {
		return "", false
	}
	u, err := url.Parse(n)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	return u.Hostname(), true
}

// URLKey is the key a normalised URL is matched by: without its scheme
// (an http listing blocks the https URL too), its fragment (never sent to
// the server), and a lone "/" path (http://a.example and
// http://a.example/ are one page). It allocates nothing.
func URLKey(normalised string) string {
	s := normalised
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, "/")
}

// splitCSV splits one CSV line into fields (RFC 4180 quoting, on one
// line).
func splitCSV(line string) []string {
	var fields []string
	var b strings.Builder
	inQuotes := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(line) && line[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			inQuotes = !inQuotes
		case c == ',' && !inQuotes:
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(fields, b.String())
}
