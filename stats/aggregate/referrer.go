package aggregate

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxHostLen is the longest host name DNS allows; longer "hosts" are not
// kept.
const MaxHostLen = 253

// ReferrerHost returns the host of a Referer header in lower case, without
// port or user information, or "" when the header is empty or holds no
// plausible host. It is a small scanner rather than url.Parse: it runs
// once per click, and a referrer that url.Parse refuses (a stray space or
// percent sign in its query) still has a usable host.
func ReferrerHost(ref string) string {
	ref = strings.TrimSpace(ref)
	_, rest, ok := strings.Cut(ref, "://")
	if !ok {
		// Scheme-relative ("//host/path") or a bare host.
		rest = strings.TrimPrefix(ref, "//")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") { // IPv6 literal
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return ""
		}
		rest = rest[:end+1]
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimRight(rest, ".") // "a.." is "a" again, and ".." no host
	if !ascii(rest) {
		// A host in Unicode (browsers send punycode; a forged header may
		// not) is kept in punycode, as the dashboard shows every host: a
		// look-alike shows for what it is.
		var err error
		if !utf8.ValidString(rest) {
			return ""
		}
		if rest, err = idna.Lookup.ToASCII(rest); err != nil {
			return ""
		}
		rest = strings.TrimRight(rest, ".")
	}
	if rest == "" || len(rest) > MaxHostLen || !hostChars(rest) {
		return ""
	}
	return lower(rest)
}

// ascii reports whether s is all ASCII.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hostChars reports whether s has only the characters of a DNS name or an
// IP literal.
func hostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == '[', c == ']', c == ':':
		default:
			return false
		}
	}
	return true
}

// lower is strings.ToLower for ASCII that allocates only when s has an
// upper-case letter (most referrers are lower case already).
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
