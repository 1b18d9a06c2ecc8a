package pgstore

// This file derives and checks column values in Go: the same rules as
// sqlitestore's fields.go, which has a copy (the two stores share no
// package below linkstore).

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/linkstore"
)

// maxListLimit is the largest ListQuery.Limit; defaultListLimit is used
// for 0.
const (
	maxListLimit     = 1000
	defaultListLimit = 100
)

// validate checks what the schema's CHECK constraints check (and what
// PostgreSQL refuses in text), so that a batch can refuse one link
// without failing the statement that carries the others.
func validate(l linkstore.Link) error {
	if l.Code == "" {
		return errors.New("empty code")
	}
	if err := validText("code", l.Code); err != nil {
		return err
	}
	if err := validURL(l.URL); err != nil {
		return err
	}
	return validStatus(l.Status)
}

func validURL(u string) error {
	if u == "" {
		return errors.New("empty URL")
	}
	return validText("URL", u)
}

func validStatus(status int) error {
	switch status {
	case 0, 301, 302, 307, 308:
		return nil
	}
	return fmt.Errorf("redirect status %d is not 0, 301, 302, 307 or 308", status)
}

// validText refuses what a PostgreSQL text value cannot hold.
func validText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL byte", what)
	}
	return nil
}

// hostOf returns the host of a target URL as the host column stores it:
// lower case, without port, brackets or trailing dots; "" (stored as
// NULL) when the URL has none.
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(strings.ToLower(u.Hostname()), ".")
}

// prefixEnd returns the least string above every string that starts with
// p in byte order (which is code-point order for UTF-8, and the order of
// the "C" collation), so that "code >= p AND code < end" selects exactly
// the codes with the prefix p. It increments the last code point rather
// than the last byte, so that end is valid UTF-8 too. ok is false when no
// such string exists (p is empty or all U+10FFFF): no upper bound.
func prefixEnd(p string) (end string, ok bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue // drop it; carry into the code point before
		case r == 0xD7FF:
			r = 0xE000 // skip the surrogates, which UTF-8 cannot encode
		default:
			r++
		}
		return p + string(r), true
	}
	return "", false
}

// reverseRunes reverses s by code point, as PostgreSQL's reverse() does.
func reverseRunes(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// listBounds is a ListQuery checked and reduced to the bounds the list
// queries take.
type listBounds struct {
	limit int
	// minID and maxID bound the ID inclusively, cursor included.
	minID, maxID int64
	prefix       string
	prefixEnd    string
	hasPrefixEnd bool
	host         string
}

func newListBounds(q linkstore.ListQuery) (listBounds, error) {
	b := listBounds{limit: q.Limit, minID: math.MinInt64, maxID: math.MaxInt64}
	switch {
	case q.Limit < 0 || q.Limit > maxListLimit:
		return b, fmt.Errorf("limit %d is not between 1 and %d", q.Limit, maxListLimit)
	case q.Limit == 0:
		b.limit = defaultListLimit
	}
	if q.Before < 0 || q.MinID < 0 || q.MaxID < 0 {
		return b, fmt.Errorf("negative ID bound (before %d, min %d, max %d)", q.Before, q.MinID, q.MaxID)
	}
	if q.MinID > 0 {
		b.minID = q.MinID
	}
	if q.MaxID > 0 {
		b.maxID = q.MaxID
	}
	if q.Before > 0 {
		b.maxID = min(b.maxID, q.Before-1)
	}
	if q.Prefix != "" {
		if err := validText("prefix", q.Prefix); err != nil {
			return b, err
		}
		b.prefix = q.Prefix
		b.prefixEnd, b.hasPrefixEnd = prefixEnd(q.Prefix)
	}
	if q.Host != "" {
		b.host = strings.TrimRight(strings.ToLower(q.Host), ".")
		if b.host == "" {
			return b, fmt.Errorf("host %q has no name", q.Host)
		}
		if err := validText("host", b.host); err != nil {
			return b, err
		}
	}
	return b, nil
}

// empty reports whether no ID can satisfy the bounds.
func (b listBounds) empty() bool { return b.minID > b.maxID }
