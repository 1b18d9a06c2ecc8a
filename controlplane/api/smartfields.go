package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/targeturl"
)

// SmartFields are the smart-link fields of a create or PATCH body (issue
// 16). They stay raw JSON until parseSmart reads them, so that a PATCH can
// tell an absent field (kept) from null (cleared), and so that a bad value
// deep inside is refused naming its JSON path ("rules[0].when.colour"),
// which the body's own decoder cannot do.
type SmartFields struct {
	// Password is write-only: 1 to 1024 bytes, stored as its argon2id
	// hash; null removes it.
	Password json.RawMessage `json:"password,omitempty"`
	// MaxClicks ends the link after that many redirects; null or 0
	// removes the limit.
	MaxClicks json.RawMessage `json:"max_clicks,omitempty"`
	// ExpiredURL is where an expired, exhausted or disabled link sends
	// its visitors instead of answering 410.
	ExpiredURL json.RawMessage `json:"expired_url,omitempty"`
	// Rules are [{"when": {...}, "url": "..."}], at most 20, replaced
	// whole.
	Rules json.RawMessage `json:"rules,omitempty"`
	// Targets are a weighted split [{"url": "...", "weight": 70}, ...],
	// replaced whole.
	Targets              json.RawMessage `json:"targets,omitempty"`
	ForwardQuery         json.RawMessage `json:"forward_query,omitempty"`
	ForwardQueryOverride json.RawMessage `json:"forward_query_override,omitempty"`
	// Preview is {title, description, image} for link-preview crawlers.
	Preview json.RawMessage `json:"preview,omitempty"`
	// CacheMaxAge makes the redirect cacheable for that many seconds.
	CacheMaxAge json.RawMessage `json:"cache_max_age,omitempty"`
	// UTM is merged into the query of the link's url and of every rule's
	// and variant's url; it is not stored apart from them.
	UTM json.RawMessage `json:"utm,omitempty"`
}

// SmartView is how an answer shows a link's smart fields. The password
// never appears, only whether there is one.
type SmartView struct {
	PasswordProtected    bool               `json:"password_protected"`
	MaxClicks            int64              `json:"max_clicks,omitempty"`
	ExpiredURL           string             `json:"expired_url,omitempty"`
	Rules                []smartlink.Rule   `json:"rules,omitempty"`
	Targets              []smartlink.Target `json:"targets,omitempty"`
	ForwardQuery         bool               `json:"forward_query,omitempty"`
	ForwardQueryOverride bool               `json:"forward_query_override,omitempty"`
	Preview              *smartlink.Preview `json:"preview,omitempty"`
	CacheMaxAge          int                `json:"cache_max_age,omitempty"`
	// UTM is read back from the url's utm_* parameters; absent when it
	// has none.
	UTM *UTM `json:"utm,omitempty"`
}

// UTM are the campaign parameters merged into a link's URLs as utm_source,
// utm_medium, utm_campaign, utm_term and utm_content.
type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

// maxUTMValue bounds one UTM value, in bytes.
const maxUTMValue = 512

// params is u as query parameters, in a fixed order.
func (u *UTM) params() [5]struct{ key, value string } {
	return [5]struct{ key, value string }{
		{"utm_source", u.Source}, {"utm_medium", u.Medium}, {"utm_campaign", u.Campaign},
		{"utm_term", u.Term}, {"utm_content", u.Content},
	}
}

func isUTMKey(k string) bool {
	switch k {
	case "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content":
		return true
	}
	return false
}

// conditions lists the keys of a rule's "when", for the refusal of others.
const conditions = "device, os, browser, country, language, query, after, before"

// Bits of smartPatch.has: which fields the body holds.
const (
	hasPassword = 1 << iota
	hasMaxClicks
	hasExpiredURL
	hasRules
	hasTargets
	hasForwardQuery
	hasQueryOverride
	hasPreview
	hasCacheMaxAge
	hasUTM
)

// smartPatch is SmartFields read: the values of the fields present (has),
// to lay over a link's options with apply.
type smartPatch struct {
	has uint
	v   smartlink.Options
	// password is the new password in clear, hashed last (hashPassword);
	// nil with hasPassword: remove it.
	password *string
	// utm is the campaign to merge; nil with hasUTM: remove utm_*.
	utm *UTM
}

// pendingHash stands for a password not hashed yet while the options are
// validated (Validate wants a well-formed hash); it is always replaced by
// the real hash before a link is stored.
const pendingHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// parseSmart reads f; the error is a *smartlink.FieldError.
func parseSmart(f SmartFields) (smartPatch, error) {
	var p smartPatch
	fields := []struct {
		bit  uint
		name string
		raw  json.RawMessage
		dst  any
	}{
		{hasMaxClicks, "max_clicks", f.MaxClicks, &p.v.MaxClicks},
		{hasExpiredURL, "expired_url", f.ExpiredURL, &p.v.ExpiredURL},
		{hasForwardQuery, "forward_query", f.ForwardQuery, &p.v.ForwardQuery},
		{hasQueryOverride, "forward_query_override", f.ForwardQueryOverride, &p.v.QueryOverride},
		{hasCacheMaxAge, "cache_max_age", f.CacheMaxAge, &p.v.CacheMaxAge},
	}
	for _, fl := range fields {
		if len(fl.raw) == 0 {
			continue
		}
		p.has |= fl.bit
		if err := decodeStrict(fl.name, fl.raw, fl.dst, nil); err != nil {
			return p, err
		}
	}
	if len(f.Password) > 0 {
		p.has |= hasPassword
		if !isNull(f.Password) {
			p.password = new(string)
			if err := decodeStrict("password", f.Password, p.password, nil); err != nil {
				return p, err
			}
			// HashPassword checks the same, but hashing comes after the
			// budgets are spent, and a refusal must come before.
			if n := len(*p.password); n == 0 || n > smartlink.MaxPassword {
				return p, &smartlink.FieldError{Field: "password", Problem: fmt.Sprintf("must be 1 to %d bytes (%d given); send null to remove the password", smartlink.MaxPassword, n)}
			}
			p.v.PasswordHash = pendingHash
		}
	}
	if len(f.Rules) > 0 {
		p.has |= hasRules
		rules, err := parseRules(f.Rules)
		if err != nil {
			return p, err
		}
		p.v.Rules = rules
	}
	if len(f.Targets) > 0 {
		p.has |= hasTargets
		var items []json.RawMessage
		if err := decodeStrict("targets", f.Targets, &items, nil); err != nil {
			return p, err
		}
		for i, raw := range items {
			var t smartlink.Target
			path := fmt.Sprintf("targets[%d]", i)
			if err := decodeStrict(path, raw, &t, unknownIn("a variant has url and weight")); err != nil {
				return p, err
			}
			p.v.Targets = append(p.v.Targets, t)
		}
	}
	if len(f.Preview) > 0 {
		p.has |= hasPreview
		if !isNull(f.Preview) {
			p.v.Preview = new(smartlink.Preview)
			if err := decodeStrict("preview", f.Preview, p.v.Preview, unknownIn("a preview has title, description and image")); err != nil {
				return p, err
			}
		}
	}
	if len(f.UTM) > 0 {
		p.has |= hasUTM
		if !isNull(f.UTM) {
			p.utm = new(UTM)
			if err := decodeStrict("utm", f.UTM, p.utm, unknownIn("utm has source, medium, campaign, term and content")); err != nil {
				return p, err
			}
			for _, kv := range p.utm.params() {
				if len(kv.value) > maxUTMValue {
					return p, &smartlink.FieldError{Field: "utm." + strings.TrimPrefix(kv.key, "utm_"), Problem: fmt.Sprintf("longer than %d bytes", maxUTMValue)}
				}
			}
		}
	}
	return p, nil
}

// parseRules reads the rules array, naming the path of what is wrong.
func parseRules(raw json.RawMessage) ([]smartlink.Rule, error) {
	var items []json.RawMessage
	if err := decodeStrict("rules", raw, &items, nil); err != nil {
		return nil, err
	}
	if len(items) > smartlink.MaxRules {
		// Before reading them: Validate would say the same, later.
		return nil, &smartlink.FieldError{Field: "rules", Problem: fmt.Sprintf("%d rules; a link holds at most %d", len(items), smartlink.MaxRules)}
	}
	rules := make([]smartlink.Rule, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("rules[%d]", i)
		var r struct {
			When json.RawMessage `json:"when"`
			URL  string          `json:"url"`
		}
		if err := decodeStrict(path, item, &r, unknownIn("a rule has when and url")); err != nil {
			return nil, err
		}
		var c smartlink.Conditions
		if len(r.When) > 0 {
			if err := decodeStrict(path+".when", r.When, &c, unknownIn("unknown condition; one of "+conditions)); err != nil {
				return nil, err
			}
		}
		// The edge compares case-insensitively; stored in one case, the
		// rules read the same in every answer.
		for j := range c.Device {
			c.Device[j] = strings.ToLower(c.Device[j])
		}
		for j := range c.OS {
			c.OS[j] = strings.ToLower(c.OS[j])
		}
		for j := range c.Browser {
			c.Browser[j] = strings.ToLower(c.Browser[j])
		}
		for j := range c.Country {
			c.Country[j] = strings.ToUpper(c.Country[j])
		}
		c.After, c.Before = c.After.UTC(), c.Before.UTC()
		rules = append(rules, smartlink.Rule{When: c, URL: strings.TrimSpace(r.URL)})
	}
	return rules, nil
}

func unknownIn(problem string) func(string) string {
	return func(string) string { return problem }
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// decodeStrict decodes raw into v, refusing keys v does not have; the error
// is a *smartlink.FieldError naming the path (under path) of the bad part,
// with unknown(key) saying what a refused key's object holds.
func decodeStrict(path string, raw json.RawMessage, v any, unknown func(key string) string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field ") && unknown != nil:
		key := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &smartlink.FieldError{Field: path + "." + key, Problem: unknown(key)}
	case errors.As(err, &typeErr):
		field := path
		if typeErr.Field != "" {
			field += "." + typeErr.Field
		}
		return &smartlink.FieldError{Field: field, Problem: "must be " + jsonKind(typeErr.Type.String())}
	case errors.As(err, &timeErr):
		return &smartlink.FieldError{Field: path, Problem: "after and before must be RFC 3339 times such as 2030-12-31T23:59:59Z"}
	default:
		return &smartlink.FieldError{Field: path, Problem: "is not acceptable: " + err.Error()}
	}
}

// jsonKind says in JSON's words what a Go type decodes from.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"):
		return "an integer"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "."), strings.HasPrefix(goType, "struct"):
		return "an object"
	}
	return "a " + goType
}

// apply lays p over cur: a field present replaces the current value (null
// and arrays included), an absent one keeps it. UTM is not applied here
// (withUTM).
func (p smartPatch) apply(cur smartlink.Options) smartlink.Options {
	o := cur
	set := func(bit uint, f func()) {
		if p.has&bit != 0 {
			f()
		}
	}
	set(hasPassword, func() { o.PasswordHash = p.v.PasswordHash })
	set(hasMaxClicks, func() { o.MaxClicks = p.v.MaxClicks })
	set(hasExpiredURL, func() { o.ExpiredURL = strings.TrimSpace(p.v.ExpiredURL) })
	set(hasRules, func() { o.Rules = p.v.Rules })
	set(hasTargets, func() { o.Targets = p.v.Targets })
	set(hasForwardQuery, func() { o.ForwardQuery = p.v.ForwardQuery })
	set(hasQueryOverride, func() { o.QueryOverride = p.v.QueryOverride })
	set(hasPreview, func() { o.Preview = p.v.Preview })
	set(hasCacheMaxAge, func() { o.CacheMaxAge = p.v.CacheMaxAge })
	if p.has&hasUTM != 0 {
		o.Rules = append([]smartlink.Rule(nil), o.Rules...)
		for i := range o.Rules {
			o.Rules[i].URL = withUTM(o.Rules[i].URL, p.utm)
		}
		o.Targets = append([]smartlink.Target(nil), o.Targets...)
		for i := range o.Targets {
			o.Targets[i].URL = withUTM(o.Targets[i].URL, p.utm)
		}
		if len(o.Rules) == 0 {
			o.Rules = nil
		}
		if len(o.Targets) == 0 {
			o.Targets = nil
		}
	}
	return o
}

// withUTM replaces raw's utm_* parameters by u's (none when u is nil),
// keeping the rest of the URL as written.
func withUTM(raw string, u *UTM) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	base, query, _ := strings.Cut(rest, "?")
	var kept []string
	for _, part := range strings.Split(query, "&") {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); part == "" || err == nil && isUTMKey(k) {
			continue
		}
		kept = append(kept, part)
	}
	if u != nil {
		for _, kv := range u.params() {
			if kv.value != "" {
				kept = append(kept, kv.key+"="+url.QueryEscape(kv.value))
			}
		}
	}
	out := base
	if len(kept) > 0 {
		out += "?" + strings.Join(kept, "&")
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// utmOf reads the campaign back from a URL's utm_* parameters; nil when
// it has none.
func utmOf(raw string) *UTM {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	q := u.Query()
	c := UTM{Source: q.Get("utm_source"), Medium: q.Get("utm_medium"), Campaign: q.Get("utm_campaign"),
		Term: q.Get("utm_term"), Content: q.Get("utm_content")}
	if c == (UTM{}) {
		return nil
	}
	return &c
}

// checkSmart validates o and puts every URL it may send a visitor to
// through the target policy and blocklists that the link's url passes,
// replacing each by the policy's form of it. A refusal is a 400 naming the
// field.
func (h *Handler) checkSmart(ctx context.Context, pol targeturl.Policy, o *smartlink.Options) *problem.Details {
	if err := o.Validate(); err != nil {
		return smartProblem(err)
	}
	check := func(field string, u *string) *problem.Details {
		target, err := pol.CheckContext(ctx, *u)
		if err != nil {
			return &problem.Details{Status: http.StatusBadRequest, Field: field, Detail: field + ": " + err.Error()}
		}
		if why, blocked := h.targetBlocked(target); blocked {
			return &problem.Details{Status: http.StatusBadRequest, Field: field, Detail: field + ": " + why}
		}
		*u = target
		return nil
	}
	for i := range o.Rules {
		if bad := check(fmt.Sprintf("rules[%d].url", i), &o.Rules[i].URL); bad != nil {
			return bad
		}
	}
	for i := range o.Targets {
		if bad := check(fmt.Sprintf("targets[%d].url", i), &o.Targets[i].URL); bad != nil {
			return bad
		}
	}
	if o.ExpiredURL != "" {
		if bad := check("expired_url", &o.ExpiredURL); bad != nil {
			return bad
		}
	}
	return nil
}

// smartProblem is the 400 for a *smartlink.FieldError (or, should another
// error come, one without a field).
func smartProblem(err error) *problem.Details {
	var fe *smartlink.FieldError
	if errors.As(err, &fe) {
		return &problem.Details{Status: http.StatusBadRequest, Field: fe.Field, Detail: fe.Error()}
	}
	return &problem.Details{Status: http.StatusBadRequest, Detail: err.Error()}
}

// smartView is how answers show o for a link whose URL is linkURL.
func smartView(o smartlink.Options, linkURL string) SmartView {
	return SmartView{
		PasswordProtected:    o.PasswordHash != "",
		MaxClicks:            o.MaxClicks,
		ExpiredURL:           o.ExpiredURL,
		Rules:                o.Rules,
		Targets:              o.Targets,
		ForwardQuery:         o.ForwardQuery,
		ForwardQueryOverride: o.QueryOverride,
		Preview:              o.Preview,
		CacheMaxAge:          o.CacheMaxAge,
		UTM:                  utmOf(linkURL),
	}
}
