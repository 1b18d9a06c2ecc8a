package smartlink

import (
	"slices"
	"time"

	"github.com/shortify/shortify/internal/splitmix"
	"github.com/shortify/shortify/internal/useragent"
)

// Visitor is what rules and the split look at. The edge fills it from the
// request; fields a link's rules do not test are never read, and the
// costly ones (the parsed user agent, the preferred language) are worked
// out on first use and kept in the Visitor, so a Visitor serves one
// request: reset it with Visitor{} before reusing it for another.
type Visitor struct {
	// UserAgent is the User-Agent header, parsed only when a rule tests
	// device, os or browser.
	UserAgent string
	// Country is the visitor's ISO 3166-1 alpha-2 country, "" unknown.
	Country string
	// AcceptLanguage is the Accept-Language header.
	AcceptLanguage string
	// RawQuery is the request's query string, without "?".
	RawQuery string
	// Now is the time of the click.
	Now time.Time
	// Hash is the visitor hash (clickevents.VisitorHasher) that keeps a
	// visitor on one variant of a split; 0 (unknown) picks by Now.
	Hash uint64

	// The memo: the user agent as bits over Devices, Systems and Browsers
	// (0: unknown family), and the preferred language.
	parsed              bool
	device, os, browser uint32
	langParsed          bool
	lang                string
}

// agent parses the user agent once.
func (v *Visitor) agent() {
	if v.parsed {
		return
	}
	v.parsed = true
	a := useragent.Parse(v.UserAgent)
	v.device = bitOf(Devices, useragent.Slug(a.Device))
	v.os = bitOf(Systems, useragent.Slug(a.OS))
	v.browser = bitOf(Browsers, useragent.Slug(a.Browser))
}

func bitOf(known []string, slug string) uint32 {
	if i := slices.Index(known, slug); i >= 0 && i < 32 {
		return 1 << i
	}
	return 0
}

// language returns the visitor's preferred language, once.
func (v *Visitor) language() string {
	if !v.langParsed {
		v.langParsed = true
		v.lang = preferredLanguage(v.AcceptLanguage)
	}
	return v.lang
}

// Choose returns the target for v: the URL of the first rule that holds,
// else a variant of the split picked by v.Hash and the weights (the same
// visitor always gets the same variant of a link), else URL; and the
// Choice it made. It does not allocate. A malformed c gives "".
func (c Compiled) Choose(v *Visitor) (string, Choice) {
	r, has := c.open()
	url := r.str()
	if has&(HasRules|HasTargets) == 0 || r.bad {
		return url, ChoiceURL
	}
	for _, s := range sections {
		if s == HasRules {
			break
		}
		if has&s != 0 {
			r.skip(s)
		}
	}
	if has&HasRules != 0 {
		n := int(r.u8())
		for i := 0; i < n && !r.bad; i++ {
			body := reader{s: r.bytes(int(r.u32()))}
			if target, ok := body.match(v); ok {
				return target, RuleChoice(i)
			}
		}
	}
	if has&HasTargets != 0 && !r.bad {
		if target, i := r.pick(c.salt(), v); i >= 0 {
			return target, TargetChoice(i)
		}
	}
	return url, ChoiceURL
}

// salt is the split's per-link salt from the header (splitSalt).
func (c Compiled) salt() uint64 {
	r := reader{s: string(c), i: 8}
	return r.u64()
}

// pick reads the split at r and returns the variant for v, -1 for a
// malformed split.
func (r *reader) pick(salt uint64, v *Visitor) (string, int) {
	h := v.Hash
	if h == 0 {
		h = uint64(v.Now.UnixNano())
	}
	bucket := int(splitmix.Mix(h^salt) % TotalWeight)
	n := int(r.u8())
	sum := 0
	for i := 0; i < n && !r.bad; i++ {
		sum += int(r.u8())
		target := r.str()
		if bucket < sum && !r.bad {
			return target, i
		}
	}
	return "", -1
}

// match tests a rule (the layout of writer.rule) and returns its URL when
// every condition holds. It reads the conditions cheapest first as
// written, and stops at the first that fails.
func (r *reader) match(v *Visitor) (string, bool) {
	bits := r.u8()
	if bits&(condDevice|condOS|condBrowser) != 0 {
		v.agent()
	}
	if bits&condDevice != 0 && r.u32()&v.device == 0 {
		return "", false
	}
	if bits&condOS != 0 && r.u32()&v.os == 0 {
		return "", false
	}
	if bits&condBrowser != 0 && r.u32()&v.browser == 0 {
		return "", false
	}
	if bits&condCountry != 0 && !r.country(v.Country) {
		return "", false
	}
	if bits&condLanguage != 0 && !r.language(v.language()) {
		return "", false
	}
	if bits&condQuery != 0 && !r.query(v.RawQuery) {
		return "", false
	}
	if bits&condAfter != 0 && r.time(v.Now) > 0 { // after > now
		return "", false
	}
	if bits&condBefore != 0 && r.time(v.Now) <= 0 { // before <= now
		return "", false
	}
	url := r.str()
	return url, !r.bad
}

func (r *reader) country(c string) bool {
	n := int(r.u8())
	list := r.bytes(2 * n)
	if len(c) != 2 {
		return false
	}
	a, b := upper(c[0]), upper(c[1])
	for i := 0; i+1 < len(list); i += 2 {
		if list[i] == a && list[i+1] == b {
			return true
		}
	}
	return false
}

// language holds when a listed tag is the visitor's preferred one or a
// prefix of it ending at a subtag (RFC 4647 basic filtering): "de"
// matches "de" and "de-AT"; "pt-BR" matches "pt-BR" but not "pt".
func (r *reader) language(pref string) bool {
	n := int(r.u8())
	found := false
	for range n {
		tag := r.bytes(int(r.u8()))
		if r.bad {
			return false
		}
		if len(pref) >= len(tag) && equalFold(pref[:len(tag)], tag) && (len(pref) == len(tag) || pref[len(tag)] == '-') && tag != "" {
			found = true
		}
	}
	return found
}

// query holds when every listed parameter is in raw with that value.
func (r *reader) query(raw string) bool {
	n := int(r.u8())
	ok := true
	for range n {
		name, value := r.str(), r.str()
		if ok && !queryHas(raw, name, value) {
			ok = false
		}
	}
	return ok && !r.bad
}

// time compares the stored time with now: -1, 0 or +1 as it is before,
// at or after now.
func (r *reader) time(now time.Time) int {
	sec, nsec := int64(r.u64()), int64(r.u32())
	s, ns := now.Unix(), int64(now.Nanosecond())
	switch {
	case sec < s || sec == s && nsec < ns:
		return -1
	case sec == s && nsec == ns:
		return 0
	}
	return 1
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold compares ASCII case-insensitively (strings.EqualFold also
// folds Unicode, which tags and codes never hold).
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// maxAcceptLanguage bounds the bytes of Accept-Language read: browsers
// send a few dozen.
const maxAcceptLanguage = 1024

// preferredLanguage returns the tag of h with the highest q-value (the
// first of equals), leaving out q=0, "*" and malformed entries; "" when
// none. The tag is a substring of h.
func preferredLanguage(h string) string {
	if len(h) > maxAcceptLanguage {
		h = h[:maxAcceptLanguage]
	}
	best, bestQ := "", 0
	for h != "" {
		var item string
		item, h = cutByte(h, ',')
		tag, params := cutByte(item, ';')
		tag = trimSpace(tag)
		q := 1000
		for params != "" {
			var p string
			p, params = cutByte(params, ';')
			p = trimSpace(p)
			if len(p) >= 2 && lower(p[0]) == 'q' && p[1] == '=' {
				q = parseQ(trimSpace(p[2:]))
			}
		}
		if q > bestQ && tag != "*" && validLanguageTag(tag) {
			best, bestQ = tag, q
		}
	}
	return best
}

// parseQ reads a qvalue ("1", "0.8", "0.125") in thousandths, -1 when
// malformed.
func parseQ(s string) int {
	if s == "" || s[0] != '0' && s[0] != '1' {
		return -1
	}
	q := int(s[0]-'0') * 1000
	s = s[1:]
	if s == "" {
		return q
	}
	if s[0] != '.' || len(s) > 4 {
		return -1
	}
	scale := 100
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		q += int(s[i]-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return -1
	}
	return q
}

func cutByte(s string, sep byte) (before, after string) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func trimSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
