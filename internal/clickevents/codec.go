package clickevents

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/shortify/shortify/internal/shortcode"
	"github.com/shortify/shortify/internal/workspace"
)

// Bounds of Event.Time that encode.
var (
	minTime = time.UnixMilli(0)
	maxTime = time.UnixMilli(MaxTimeMillis)
)

// AppendBinary appends the record value of e to b (see the package
// documentation for the layout). An event that cannot be encoded gives an
// error wrapping ErrInvalid and b unchanged. Strings are cleaned and
// truncated as documented; e itself is not changed.
func (e *Event) AppendBinary(b []byte) ([]byte, error) {
	b, _, err := e.appendBinary(b)
	return b, err
}

// appendBinary is AppendBinary that also returns where in b the code
// starts, so that the emitter's record key can share the value's memory.
func (e *Event) appendBinary(b []byte) (_ []byte, codeAt int, _ error) {
	if err := e.check(); err != nil {
		return b, 0, err
	}
	var flags byte
	if e.Bot {
		flags |= flagBot
	}
	b = append(b, Version, flags)
	b = binary.AppendUvarint(b, uint64(e.Time.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(e.LinkID))
	b = binary.AppendUvarint(b, uint64(e.Status))
	b = binary.LittleEndian.AppendUint64(b, e.Visitor)
	if e.Country == "" {
		b = append(b, 0, 0)
	} else {
		b = append(b, e.Country[0], e.Country[1])
	}
	b = binary.AppendUvarint(b, uint64(len(e.Code)))
	codeAt = len(b)
	b = append(b, e.Code...)
	b = appendString(b, e.UserAgent, MaxUserAgent)
	b = appendString(b, e.Referrer, MaxReferrer)
	b = binary.AppendUvarint(b, uint64(cmp.Or(e.Workspace, workspace.DefaultID)))
	b = binary.AppendUvarint(b, uint64(len(e.Domain)))
	b = append(b, e.Domain...)
	b = append(b, e.Choice)
	return b, codeAt, nil
}

// MarshalBinary returns the record value of e (AppendBinary to nil).
func (e *Event) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(nil)
}

// check reports why e cannot be encoded, or nil.
func (e *Event) check() error {
	switch {
	case !shortcode.WellFormed(e.Code):
		return fmt.Errorf("clickevents: encode: code %q is not well-formed: %w", e.Code, ErrInvalid)
	case e.Time.Before(minTime) || e.Time.After(maxTime):
		return fmt.Errorf("clickevents: encode %q: time %s outside 1970 to 9999: %w", e.Code, e.Time, ErrInvalid)
	case e.LinkID < 0:
		return fmt.Errorf("clickevents: encode %q: negative link ID %d: %w", e.Code, e.LinkID, ErrInvalid)
	case e.Status < 100 || e.Status > 599:
		return fmt.Errorf("clickevents: encode %q: status %d outside 100 to 599: %w", e.Code, e.Status, ErrInvalid)
	case e.Country != "" && !validCountry(e.Country):
		return fmt.Errorf("clickevents: encode %q: country %q is not two letters A-Z (see NormalizeCountry): %w", e.Code, e.Country, ErrInvalid)
	case e.Workspace < 0:
		return fmt.Errorf("clickevents: encode %q: negative workspace %d: %w", e.Code, e.Workspace, ErrInvalid)
	case !ValidDomain(e.Domain):
		return fmt.Errorf("clickevents: encode %q: domain %q is not a lower-case host name (see ValidDomain): %w", e.Code, e.Domain, ErrInvalid)
	}
	return nil
}

// validCountry reports whether c is two letters 'A'-'Z'.
func validCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// appendString appends s as a length-prefixed string: invalid UTF-8 and
// NUL bytes replaced with U+FFFD, then cut to at most limit bytes at a
// character boundary.
func appendString(b []byte, s string, limit int) []byte {
	if !clean(s) {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// clean reports whether s is valid UTF-8 without NUL bytes. User agents
// and referrers are nearly always ASCII, which the first loop settles.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			rest := s[i:]
			return strings.IndexByte(rest, 0) < 0 && utf8.ValidString(rest)
		}
	}
	return true
}

// UnmarshalBinary decodes a record value into e, replacing all of it. A
// value of another version gives an error wrapping ErrVersion; one that
// breaks the format, an error wrapping ErrMalformed that names the rule.
// On error e is unchanged. The strings are copied out of data, which the
// caller may reuse: Code in an allocation of its own (a consumer may keep
// it as a map key), UserAgent, Referrer and Domain sharing a second one.
func (e *Event) UnmarshalBinary(data []byte) error {
	var v Event
	if err := v.UnmarshalView(data); err != nil {
		return err
	}
	var rest string // user agent, referrer, domain
	ua, ref := len(v.UserAgent), len(v.UserAgent)+len(v.Referrer)
	if ref+len(v.Domain) > 0 {
		var sb strings.Builder
		sb.Grow(ref + len(v.Domain))
		sb.WriteString(v.UserAgent)
		sb.WriteString(v.Referrer)
		sb.WriteString(v.Domain)
		rest = sb.String()
	}
	v.Code = strings.Clone(v.Code)
	v.UserAgent, v.Referrer, v.Domain = rest[:ua], rest[ua:ref], rest[ref:]
	*e = v
	return nil
}

// view returns b as a string without copying, for checks that do not keep
// it (b must not change while the string is in use).
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// decoder reads fields in order; after the first error every read
// returns zero and err keeps that error.
type decoder struct {
	data []byte
	off  int
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("clickevents: decode: "+format+": %w", append(args, ErrMalformed)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.data) {
		d.fail("truncated at byte %d", d.off)
		return 0
	}
	c := d.data[d.off]
	d.off++
	return c
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.data)-d.off < 8 {
		d.fail("truncated at byte %d (visitor)", d.off)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.data[d.off:])
	d.off += 8
	return v
}

// uvarint reads a varint of at most limit.
func (d *decoder) uvarint(field string, limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	switch {
	case n == 0:
		d.fail("truncated at byte %d (%s)", d.off, field)
		return 0
	case n < 0:
		d.fail("%s: varint overflows 64 bits at byte %d", field, d.off)
		return 0
	case n > 1 && d.data[d.off+n-1] == 0:
		// One value, one encoding: the fuzz test holds decoders and
		// the encoder to the same bytes.
		d.fail("%s: varint of more bytes than needed at byte %d", field, d.off)
		return 0
	case v > limit:
		d.fail("%s %d above %d", field, v, limit)
		return 0
	}
	d.off += n
	return v
}

// bytes reads a length-prefixed string of at most limit bytes; the
// result aliases data. The names are constants (no concatenation on the
// hot path).
func (d *decoder) bytes(field, lengthField string, limit int) []byte {
	n := d.uvarint(lengthField, uint64(limit))
	if d.err != nil {
		return nil
	}
	if uint64(len(d.data)-d.off) < n {
		d.fail("%s of %d bytes truncated at byte %d", field, n, d.off)
		return nil
	}
	b := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

// Interface guards.
var (
	_ encoding.BinaryAppender    = (*Event)(nil)
	_ encoding.BinaryMarshaler   = (*Event)(nil)
	_ encoding.BinaryUnmarshaler = (*Event)(nil)
)
