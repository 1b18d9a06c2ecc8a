// Package smartlink is what a link decides at the moment of the click:
// a password, a click limit, where an expired link sends its visitors,
// targeting rules, a weighted split, query forwarding, a link preview for
// social crawlers and a CDN lifetime. A link without any of them (Options'
// zero value) is a plain link, and the edge never looks here for it.
//
// The same Options travel four ways: as the API's JSON (controlplane/api
// maps it; the password there is write-only), as the stores' column
// (MarshalStored, ParseStored: JSON, password as its argon2id hash), in
// Redis (internal/l2cache carries the stored form), and in the edge's
// pointer-free L1 as a compact byte string (Compile, Compiled), decoded
// only when a request for that link needs a field.
package smartlink

import "time"

// Limits of the options, checked by Validate.
const (
	// MaxRules is the most rules a link holds.
	MaxRules = 20
	// MaxTargets is the most variants of a split; a split has at least 2.
	MaxTargets = 10
	// TotalWeight is what the weights of a split add up to.
	TotalWeight = 100
	// MaxValues is the most values one condition lists.
	MaxValues = 50
	// MaxQuery is the most parameters a query condition names.
	MaxQuery = 10
	// MaxPassword is the longest password, in bytes.
	MaxPassword = 1024
	// MaxTitle and MaxDescription bound a preview's texts, in characters.
	MaxTitle       = 300
	MaxDescription = 1000
	// MaxURL is the longest URL an option holds (a rule's, a variant's,
	// expired_url, a preview image), in bytes.
	MaxURL = 8192
	// MaxCacheMaxAge is the longest cache_max_age: a year, in seconds.
	MaxCacheMaxAge = 365 * 24 * 3600
	// MaxClicksLimit is the largest max_clicks.
	MaxClicksLimit = 1 << 50
)

// Options are a link's click-time options. The zero value is a plain link.
// The JSON tags are the stored form (MarshalStored).
type Options struct {
	// PasswordHash is the argon2id hash of the link's password (PHC
	// string form, HashPassword); "" when the link has none.
	PasswordHash string `json:"password_hash,omitempty"`
	// MaxClicks ends the link after that many redirects, counted exactly
	// across every edge (see docs/smart-links.md); 0: no limit.
	MaxClicks int64 `json:"max_clicks,omitempty"`
	// ExpiredURL is where an expired, exhausted or disabled link sends
	// its visitors (302) instead of answering 410; "": 410.
	ExpiredURL string `json:"expired_url,omitempty"`
	// Rules pick the target by the visitor: the first rule whose every
	// condition holds wins.
	Rules []Rule `json:"rules,omitempty"`
	// Targets split the visitors that no rule took between variants by
	// weight, each visitor keeping their variant.
	Targets []Target `json:"targets,omitempty"`
	// ForwardQuery appends the visitor's query string to the target.
	// The link's own parameters win over the visitor's of the same name
	// unless QueryOverride.
	ForwardQuery  bool `json:"forward_query,omitempty"`
	QueryOverride bool `json:"forward_query_override,omitempty"`
	// Preview is what link-preview crawlers are shown instead of the
	// redirect; nil: they get the redirect like everyone.
	Preview *Preview `json:"preview,omitempty"`
	// CacheMaxAge makes the redirect cacheable by browsers and CDNs for
	// that many seconds (Cache-Control: public, max-age=N); 0: the
	// edge's default. Only for links whose answer does not depend on the
	// visitor (VisitorDependent).
	CacheMaxAge int `json:"cache_max_age,omitempty"`
}

// Rule sends the visitors that match When to URL.
type Rule struct {
	When Conditions `json:"when"`
	URL  string     `json:"url"`
}

// Conditions are a rule's tests; a rule holds when every condition set
// holds. A list condition holds when the visitor's value is any of its
// values (compared case-insensitively).
type Conditions struct {
	// Device: mobile, tablet, desktop or bot.
	Device []string `json:"device,omitempty"`
	// OS: an operating-system family (Systems).
	OS []string `json:"os,omitempty"`
	// Browser: a browser family (Browsers).
	Browser []string `json:"browser,omitempty"`
	// Country: ISO 3166-1 alpha-2 codes, upper case.
	Country []string `json:"country,omitempty"`
	// Language: language tags ("de", "pt-BR"); holds when the visitor's
	// most preferred language in Accept-Language (highest q) is one of
	// them, a bare tag also matching its regional forms.
	Language []string `json:"language,omitempty"`
	// Query: parameters that must be present in the visitor's query with
	// exactly these values.
	Query map[string]string `json:"query,omitempty"`
	// After and Before bound the time of the click: After <= t < Before.
	After  time.Time `json:"after,omitzero"`
	Before time.Time `json:"before,omitzero"`
}

// Target is one variant of a split.
type Target struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// Preview is a link's OpenGraph and Twitter-card preview.
type Preview struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Image is an absolute http(s) URL.
	Image string `json:"image,omitempty"`
}

// IsZero reports whether o is a plain link's options.
func (o Options) IsZero() bool {
	return o.PasswordHash == "" && o.MaxClicks == 0 && o.ExpiredURL == "" &&
		len(o.Rules) == 0 && len(o.Targets) == 0 && !o.ForwardQuery && !o.QueryOverride &&
		o.Preview == nil && o.CacheMaxAge == 0
}

// VisitorDependent reports whether the answer depends on who clicks or how
// often (a password, a click limit, rules, a split, a preview): such a
// link's redirect must reach an edge every time, so it takes no
// cache_max_age.
func (o Options) VisitorDependent() bool {
	return o.PasswordHash != "" || o.MaxClicks > 0 || len(o.Rules) > 0 || len(o.Targets) > 0 || o.Preview != nil
}

// URLs returns every URL the options may send a visitor to (rules,
// variants, expired_url), for the target checks the link's URL gets.
func (o Options) URLs() []string {
	var us []string
	for _, r := range o.Rules {
		us = append(us, r.URL)
	}
	for _, t := range o.Targets {
		us = append(us, t.URL)
	}
	if o.ExpiredURL != "" {
		us = append(us, o.ExpiredURL)
	}
	return us
}
