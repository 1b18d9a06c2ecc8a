package smartlink

import "time"

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
}

// Choose returns the target for v: the URL of the first rule that holds,
// else a variant of the split picked by v.Hash and the weights (the same
// visitor always gets the same variant of a link), else URL; and the
// Choice it made. It does not allocate.
func (c Compiled) Choose(v *Visitor) (string, Choice) { panic("to be written") }

// ForwardQuery returns target with the visitor's raw query merged in when
// the link forwards queries (the link's parameters win unless
// QueryOverride); target itself otherwise.
func (c Compiled) ForwardQuery(target, rawQuery string) string { panic("to be written") }
