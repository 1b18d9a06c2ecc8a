package targeturl

import (
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/net/idna"
)

// Look-alike hosts (Unicode TR 39). A host name is refused when one of
// its labels
//   - mixes scripts beyond TR 39's "highly restrictive" level: one script,
//     or Latin with Han, Hiragana and Katakana (Japanese), with Han and
//     Bopomofo (Chinese) or with Han and Hangul (Korean); Common and
//     Inherited characters (digits, '-', combining marks) go with any; or
//   - is not ASCII but its TR 39 confusable skeleton is (a whole-script
//     confusable such as Cyrillic "аррӏе" for "apple"), so that it reads
//     as a Latin name it is not.
// Plain ASCII labels are never look-alikes: "paypa1" is a typo-squat, the
// blocklist's business.

// scriptTables are the scripts a label's letters are classified into.
var scriptTables = map[string]*unicode.RangeTable{
	"Latin": unicode.Latin, "Greek": unicode.Greek, "Cyrillic": unicode.Cyrillic,
	"Armenian": unicode.Armenian, "Hebrew": unicode.Hebrew, "Arabic": unicode.Arabic,
	"Han": unicode.Han, "Hiragana": unicode.Hiragana, "Katakana": unicode.Katakana,
	"Bopomofo": unicode.Bopomofo, "Hangul": unicode.Hangul, "Thai": unicode.Thai,
	"Devanagari": unicode.Devanagari, "Georgian": unicode.Georgian, "Cherokee": unicode.Cherokee,
	"Ethiopic": unicode.Ethiopic, "Lao": unicode.Lao, "Tamil": unicode.Tamil,
}

// allowedMixes are the multi-script sets TR 39's highly restrictive level
// accepts (any subset of one of them passes).
var allowedMixes = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
	{"Latin": true, "Han": true, "Hangul": true},
}

// Lookalike says why the ASCII (punycode) host is a look-alike, or "":
// the check RefuseLookalike applies, for callers that accept such hosts
// and flag them instead (lookalike_hosts flag).
func Lookalike(asciiHost string) string { return lookalike(asciiHost) }

// lookalike says why the ASCII (punycode) host is a look-alike, or "".
func lookalike(asciiHost string) string {
	for _, label := range strings.Split(asciiHost, ".") {
		if !strings.HasPrefix(label, "xn--") {
			continue
		}
		u, err := idna.ToUnicode(label)
		if err != nil {
			continue // normaliseHost has already refused invalid labels
		}
		scripts := labelScripts(u)
		if !restrictive(scripts) {
			return "it mixes the scripts " + strings.Join(slices.Sorted(maps.Keys(scripts)), "+")
		}
		if sk := confusables.Skeleton(u); isLDH(sk) {
			return "it looks like the Latin name " + sk
		}
	}
	return ""
}

// labelScripts returns the scripts of s's letters; "Other" stands for a
// script not in scriptTables.
func labelScripts(s string) map[string]bool {
	set := map[string]bool{}
	for _, r := range s {
		if unicode.In(r, unicode.Common, unicode.Inherited) {
			continue
		}
		found := "Other:" + string(r)
		for name, t := range scriptTables {
			if unicode.Is(t, r) {
				found = name
				break
			}
		}
		set[found] = true
	}
	return set
}

// restrictive reports whether scripts is a single script or within one
// of the allowed mixes.
func restrictive(scripts map[string]bool) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, mix := range allowedMixes {
		ok := true
		for s := range scripts {
			ok = ok && mix[s]
		}
		if ok {
			return true
		}
	}
	return false
}

// isLDH reports whether s is a non-empty ASCII letters-digits-hyphen
// label.
func isLDH(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}
