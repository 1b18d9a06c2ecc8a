package smartlink

import "time"

// This file is the edge's view of a link's options: the L1 keeps a smart
// link's Location and options as one byte string (Compile), and a request
// decodes only the fields it needs, without allocating. The layout is
// private to this package and may change with a release: the L1 lives in
// one process and is filled from the stored form.

// Compiled is a smart link's URL and options in the L1's form.
type Compiled string

// Compile encodes url (the link's Location, already checked) and o (which
// passed Validate) for the L1.
func Compile(url string, o Options) (Compiled, error) {
	panic("smartlink: Compile: to be written (issue 16)")
}

// Has tells which options a Compiled holds, so that the edge skips what a
// link does not use with one bit test.
type Has uint16

// The bits of Has.
const (
	HasPassword Has = 1 << iota
	HasMaxClicks
	HasExpiredURL
	HasRules
	HasTargets
	HasForwardQuery
	HasPreview
	HasCacheMaxAge
)

// Has returns the bits of the options c holds; 0 for a malformed c.
func (c Compiled) Has() Has { panic("to be written") }

// URL is the link's own target.
func (c Compiled) URL() string { panic("to be written") }

// PasswordHash, MaxClicks, ExpiredURL and CacheMaxAge return those options
// ("" or 0 when absent).
func (c Compiled) PasswordHash() string { panic("to be written") }

// MaxClicks returns the click limit, 0 for none.
func (c Compiled) MaxClicks() int64 { panic("to be written") }

// ExpiredURL returns where an expired, exhausted or disabled link sends
// its visitors; "" for 410.
func (c Compiled) ExpiredURL() string { panic("to be written") }

// CacheMaxAge returns the link's cache lifetime in seconds, 0 for the
// edge's default.
func (c Compiled) CacheMaxAge() int { panic("to be written") }

// Preview returns the link's preview, ok false when it has none.
func (c Compiled) Preview() (p Preview, ok bool) { panic("to be written") }

// QueryOverride reports whether the visitor's query parameters win over
// the link's (forward_query_override).
func (c Compiled) QueryOverride() bool { panic("to be written") }

// Visitor is what rules and the split look at. The edge fills it from the
// request; fields a link's rules do not test are never read, so the edge
// may fill the costly ones (the parsed user agent) lazily through Agent.
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
}

// Choice says which of a link's targets a click went to, for the click
// event and the stats: ChoiceURL (the link's url), a rule or a variant.
// It fits a byte: 0 the URL, 1 to MaxRules rules[0..], 64 to
// 64+MaxTargets-1 targets[0..].
type Choice uint8

// ChoiceURL is the link's own url: no rule held and there is no split.
const ChoiceURL Choice = 0

// RuleChoice and TargetChoice return the Choice of rules[i] and targets[i].
func RuleChoice(i int) Choice   { return Choice(1 + i) }
func TargetChoice(i int) Choice { return Choice(64 + i) }

// String is the choice as the stats name it: "url", "rules[2]",
// "targets[0]" (the JSON path of the link's field it came from), or
// "unknown" for a byte no link writes.
func (c Choice) String() string { panic("to be written") }

// Choose returns the target for v: the URL of the first rule that holds,
// else a variant of the split picked by v.Hash and the weights (the same
// visitor always gets the same variant of a link), else URL; and the
// Choice it made. It does not allocate.
func (c Compiled) Choose(v *Visitor) (string, Choice) { panic("to be written") }

// ForwardQuery returns target with the visitor's raw query merged in when
// the link forwards queries (the link's parameters win unless
// QueryOverride); target itself otherwise.
func (c Compiled) ForwardQuery(target, rawQuery string) string { panic("to be written") }
