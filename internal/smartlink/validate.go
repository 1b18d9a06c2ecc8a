package smartlink

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// FieldError is a problem with one field of the options, named by its
// JSON path in the API ("rules[3].when.colour", "targets", "preview.image"),
// so that a 400 can say which field to fix.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// The values the device, os and browser conditions accept: the families
// that package useragent tells apart, in lower case without spaces.
var (
	Devices  = []string{"mobile", "tablet", "desktop", "bot"}
	Systems  = []string{"ios", "android", "windows", "windowsphone", "macos", "linux", "chromeos", "freebsd", "openbsd"}
	Browsers = []string{
		"chrome", "chromium", "firefox", "safari", "edge", "opera", "samsunginternet", "yandexbrowser",
		"ucbrowser", "vivaldi", "brave", "duckduckgo", "facebookapp", "instagramapp", "internetexplorer",
	}
)

// Validate checks o as every store and edge may rely on: at most MaxRules
// rules, each with at least one known condition and a URL; a split of 2 to
// MaxTargets variants whose weights (1 to 100) add up to TotalWeight;
// bounded texts and URLs; a preview image that is an absolute http(s)
// URL; a time window that is not empty; cache_max_age only on a link that
// is not VisitorDependent. It does not apply the instance's target policy
// (private addresses, blocklists) to the URLs: the API does, as it does
// for the link's own URL. The error is a *FieldError.
func (o Options) Validate() error {
	if o.PasswordHash != "" && !ValidHash(o.PasswordHash) {
		return fieldErr("password", "the stored hash is not an argon2id hash this release can check")
	}
	if o.MaxClicks < 0 || o.MaxClicks > MaxClicksLimit {
		return fieldErr("max_clicks", "must be between 1 and %d (0 or absent: no limit)", int64(MaxClicksLimit))
	}
	if o.ExpiredURL != "" {
		if err := checkURL("expired_url", o.ExpiredURL); err != nil {
			return err
		}
	}
	if len(o.Rules) > MaxRules {
		return fieldErr("rules", "%d rules; a link holds at most %d", len(o.Rules), MaxRules)
	}
	for i, r := range o.Rules {
		if err := r.validate(fmt.Sprintf("rules[%d]", i)); err != nil {
			return err
		}
	}
	if err := validTargets(o.Targets); err != nil {
		return err
	}
	if o.QueryOverride && !o.ForwardQuery {
		return fieldErr("forward_query_override", "needs forward_query")
	}
	if p := o.Preview; p != nil {
		if err := p.validate(); err != nil {
			return err
		}
	}
	if o.CacheMaxAge < 0 || o.CacheMaxAge > MaxCacheMaxAge {
		return fieldErr("cache_max_age", "must be between 1 and %d seconds (0 or absent: the edge's default)", MaxCacheMaxAge)
	}
	if o.CacheMaxAge > 0 && o.VisitorDependent() {
		return fieldErr("cache_max_age", "refused for a link whose answer depends on the visitor (password, max_clicks, rules, targets or preview): a CDN would answer for it")
	}
	return nil
}

func (r Rule) validate(path string) error {
	c := r.When
	if len(c.Device)+len(c.OS)+len(c.Browser)+len(c.Country)+len(c.Language)+len(c.Query) == 0 &&
		c.After.IsZero() && c.Before.IsZero() {
		return fieldErr(path+".when", "has no condition")
	}
	lists := []struct {
		name   string
		values []string
		known  []string
	}{
		{"device", c.Device, Devices},
		{"os", c.OS, Systems},
		{"browser", c.Browser, Browsers},
		{"country", c.Country, nil},
		{"language", c.Language, nil},
	}
	for _, l := range lists {
		field := path + ".when." + l.name
		if len(l.values) > MaxValues {
			return fieldErr(field, "lists %d values; at most %d", len(l.values), MaxValues)
		}
		for j, v := range l.values {
			if err := checkValue(fmt.Sprintf("%s[%d]", field, j), l.name, v, l.known); err != nil {
				return err
			}
		}
	}
	if len(c.Query) > MaxQuery {
		return fieldErr(path+".when.query", "names %d parameters; at most %d", len(c.Query), MaxQuery)
	}
	for k, v := range c.Query {
		if k == "" || len(k) > 256 || len(v) > 1024 || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fieldErr(path+".when.query", "parameter %q: names are 1 to 256 bytes, values at most 1024, UTF-8", k)
		}
	}
	if !c.After.IsZero() && !c.Before.IsZero() && !c.After.Before(c.Before) {
		return fieldErr(path+".when.before", "must be later than after")
	}
	return checkURL(path+".url", r.URL)
}

func checkValue(field, cond, v string, known []string) error {
	switch {
	case known != nil:
		if !slices.Contains(known, strings.ToLower(v)) {
			return fieldErr(field, "unknown %s %q; one of %s", cond, v, strings.Join(known, ", "))
		}
	case cond == "country":
		if len(v) != 2 || !isAlpha(v) {
			return fieldErr(field, "%q is not an ISO 3166-1 alpha-2 country code (such as DE)", v)
		}
	case cond == "language":
		if !validLanguageTag(v) {
			return fieldErr(field, "%q is not a language tag (such as de or pt-BR)", v)
		}
	}
	return nil
}

// validLanguageTag accepts the BCP 47 shapes Accept-Language carries: a
// 2-3 letter language and up to three alphanumeric subtags of 1-8. It
// runs on every click of a link with a language rule, so it does not
// allocate.
func validLanguageTag(v string) bool {
	first, rest, _ := strings.Cut(v, "-")
	if len(first) < 2 || len(first) > 3 || !isAlpha(first) {
		return false
	}
	for n := 0; rest != ""; n++ {
		var p string
		p, rest, _ = strings.Cut(rest, "-")
		if n == 3 || len(p) < 1 || len(p) > 8 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i] | 0x20; !(c >= 'a' && c <= 'z' || p[i] >= '0' && p[i] <= '9') {
				return false
			}
		}
	}
	return !strings.HasSuffix(v, "-")
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func validTargets(ts []Target) error {
	if len(ts) == 0 {
		return nil
	}
	if len(ts) < 2 || len(ts) > MaxTargets {
		return fieldErr("targets", "%d variants; a split has 2 to %d", len(ts), MaxTargets)
	}
	sum := 0
	for i, t := range ts {
		if t.Weight < 1 || t.Weight > TotalWeight {
			return fieldErr(fmt.Sprintf("targets[%d].weight", i), "must be between 1 and %d", TotalWeight)
		}
		sum += t.Weight
		if err := checkURL(fmt.Sprintf("targets[%d].url", i), t.URL); err != nil {
			return err
		}
	}
	if sum != TotalWeight {
		return fieldErr("targets", "weights add up to %d; they must add up to %d", sum, TotalWeight)
	}
	return nil
}

func (p Preview) validate() error {
	if p == (Preview{}) {
		return fieldErr("preview", "is empty; give a title, a description or an image, or leave it out")
	}
	if n := utf8.RuneCountInString(p.Title); n > MaxTitle || !utf8.ValidString(p.Title) {
		return fieldErr("preview.title", "at most %d characters of UTF-8", MaxTitle)
	}
	if n := utf8.RuneCountInString(p.Description); n > MaxDescription || !utf8.ValidString(p.Description) {
		return fieldErr("preview.description", "at most %d characters of UTF-8", MaxDescription)
	}
	if p.Image != "" {
		return checkURL("preview.image", p.Image)
	}
	return nil
}

// checkURL checks that u is an absolute http(s) URL of at most MaxURL
// bytes; the API applies the target policy on top.
func checkURL(field, u string) error {
	if u == "" {
		return fieldErr(field, "is empty")
	}
	if len(u) > MaxURL {
		return fieldErr(field, "longer than %d bytes", MaxURL)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fieldErr(field, "%q is not an absolute http(s) URL", u)
	}
	return nil
}

// ErrPasswordTooLong is wrapped by HashPassword's error for a password over
// MaxPassword bytes.
var ErrPasswordTooLong = errors.New("password too long")
