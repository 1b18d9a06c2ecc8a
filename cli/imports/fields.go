package imports

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// timeLayouts are the timestamps the sources write: RFC 3339 (Shlink,
// Kutt on PostgreSQL), ISO 8601 with a colon-less offset (Bitly's
// "2020-10-26T17:20:40+0000"), and SQL's "2006-01-02 15:04:05" (YOURLS,
// Kutt on SQLite and MySQL), read as UTC since the exports do not say.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads a timestamp in one of timeLayouts or as Unix seconds;
// "" (and MySQL's zero date) is the zero time.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (use RFC 3339, for example 2026-01-31T12:00:00Z)", truncate(s, 40))
}

// splitTags splits a tags cell on any of seps, trimming each tag and
// dropping empty ones.
func splitTags(s, seps string) []string {
	var tags []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// normHeader is a column name compared without case, spaces, '_' or '-':
// "Long URL", "long_url" and "longUrl" are all "longurl".
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimPrefix(s, "\ufeff") {
		switch {
		case r == ' ' || r == '_' || r == '-' || r == '\t':
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// splitShortURL takes a short link as the sources write it
// ("https://bit.ly/abc", "bit.ly/abc", "abc") apart into its host and
// code.
func splitShortURL(s string) (domain, code string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if !strings.Contains(s, "://") {
		if !strings.Contains(s, "/") {
			return "", s
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", ""
	}
	return strings.ToLower(u.Hostname()), strings.Trim(u.Path, "/")
}

// sourceKey is a record's key in its source: "<format>:<domain>/<code>",
// or "<format>:<url>" when the record has no code.
func sourceKey(f Format, domain, code, target string) string {
	if code == "" {
		return string(f) + ":" + target
	}
	return string(f) + ":" + strings.ToLower(domain) + "/" + code
}

// MaxExternalID is the longest external ID the API takes, in characters.
const MaxExternalID = 255

// ExternalID is the external_id the importer gives a record's link: its
// SourceKey when the API takes that as it is (at most MaxExternalID
// printable characters), otherwise "<format>:sha256:<hex>" of it, so that
// a long URL still has a stable ID.
func ExternalID(r Record) string {
	k := r.SourceKey
	if utf8.ValidString(k) && utf8.RuneCountInString(k) <= MaxExternalID && strings.IndexFunc(k, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return k
	}
	format, _, _ := strings.Cut(k, ":")
	sum := sha256.Sum256([]byte(k))
	return truncate(format, 32) + ":sha256:" + hex.EncodeToString(sum[:])
}

// truncate shortens s to at most n bytes at a rune boundary, for
// messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// checkTarget is the light check a record's URL gets before it is sent:
// present and absolute http(s). The API checks the rest and says why.
func checkTarget(u string) string {
	switch {
	case u == "":
		return "the URL is empty"
	case !strings.HasPrefix(strings.ToLower(u), "http://") && !strings.HasPrefix(strings.ToLower(u), "https://"):
		return fmt.Sprintf("the URL %q is not an http(s) URL", truncate(u, 80))
	}
	return ""
}
