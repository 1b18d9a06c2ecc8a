package clickevents

import (
	"fmt"
	"math"
	"time"

	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/workspace"
)

// UnmarshalView decodes a record value into e without copying: Code,
// UserAgent, Referrer and Domain are views into data, valid only while data is
// neither changed nor reused. It is for a consumer that copies what it
// keeps (the stats aggregation), where the two allocations per event of
// UnmarshalBinary (which is this decoder followed by those copies) were a
// tenth of the ingest's CPU. A value of another version gives an error
// wrapping ErrVersion; one that breaks the format, an error wrapping
// ErrMalformed that names the rule. On error e is unchanged.
func (e *Event) UnmarshalView(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("clickevents: decode: empty value: %w", ErrMalformed)
	}
	if data[0] != Version && data[0] != VersionWithoutWorkspace {
		return fmt.Errorf("clickevents: decode: version %d (this reader knows %d and %d): %w", data[0], VersionWithoutWorkspace, Version, ErrVersion)
	}
	if len(data) > MaxSize {
		return fmt.Errorf("clickevents: decode: %d bytes, more than %d: %w", len(data), MaxSize, ErrMalformed)
	}
	d := decoder{data: data, off: 1}
	flags := d.byte()
	ms := d.uvarint("time", MaxTimeMillis)
	id := d.uvarint("link ID", math.MaxInt64)
	status := d.uvarint("status", 599)
	visitor := d.uint64()
	c0, c1 := d.byte(), d.byte()
	code := view(d.bytes("code", "code length", shortcode.MaxLen))
	ua := view(d.bytes("user agent", "user agent length", MaxUserAgent))
	ref := view(d.bytes("referrer", "referrer length", MaxReferrer))
	ws, domain, choice := uint64(workspace.DefaultID), "", byte(0)
	if data[0] == Version {
		ws = d.uvarint("workspace", math.MaxInt64)
		domain = view(d.bytes("domain", "domain length", MaxDomain))
		if d.err == nil && d.off < len(data) {
			// Absent in the values of edges from before smart links:
			// their clicks all went to the link's url.
			choice = d.byte()
		}
	}
	if d.err != nil {
		return d.err
	}
	var country string
	switch {
	case c0 == 0 && c1 == 0:
	case c0 >= 'A' && c0 <= 'Z' && c1 >= 'A' && c1 <= 'Z':
		country = countryString(c0, c1)
	default:
		return fmt.Errorf("clickevents: decode: country bytes %#x %#x are not two letters A-Z: %w", c0, c1, ErrMalformed)
	}
	switch {
	case status < 100:
		return fmt.Errorf("clickevents: decode: status %d below 100: %w", status, ErrMalformed)
	case !shortcode.WellFormed(code):
		return fmt.Errorf("clickevents: decode: code %q is not well-formed: %w", code, ErrMalformed)
	case !clean(ua):
		return fmt.Errorf("clickevents: decode: user agent is not UTF-8 without NUL: %w", ErrMalformed)
	case !clean(ref):
		return fmt.Errorf("clickevents: decode: referrer is not UTF-8 without NUL: %w", ErrMalformed)
	case ws == 0:
		return fmt.Errorf("clickevents: decode: workspace 0: %w", ErrMalformed)
	case !ValidDomain(domain):
		return fmt.Errorf("clickevents: decode: domain %q is not a lower-case host name: %w", domain, ErrMalformed)
	}
	*e = Event{
		Time:      time.UnixMilli(int64(ms)).UTC(),
		Code:      code,
		LinkID:    int64(id),
		Status:    uint16(status),
		Visitor:   visitor,
		Country:   country,
		Bot:       flags&flagBot != 0,
		UserAgent: ua,
		Referrer:  ref,
		Workspace: int64(ws),
		Domain:    domain,
		Choice:    choice,
	}
	return nil
}
