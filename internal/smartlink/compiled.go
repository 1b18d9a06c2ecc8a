package smartlink

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file is the edge's view of a link's options: the L1 keeps a smart
// link's Location and options as one byte string (Compile), and a request
// decodes only the fields it needs, without allocating. The layout is
// private to this package and may change with a release: the L1 lives in
// one process and is filled from the stored form.
//
// The layout (integers little-endian, a "str" is a uint16 length and the
// bytes):
//
//	header   magic byte, Has uint16, flags byte (flagOverride), total
//	         length uint32, split salt uint64
//	url      str, always
//	then, each only when its Has bit is set and in this order:
//	password str; max_clicks uint64; expired_url str; cache_max_age
//	uint32; preview str title, str description, str image; rules: a count
//	byte, then per rule a uint32 length and the rule (see appendRule);
//	targets: a count byte, then per variant a weight byte and str url.
//
// Every read is bounds-checked (reader), so that any byte string decodes
// to zero values rather than a panic; the total length in the header makes
// a truncated Compiled read as malformed (Has() == 0) with one compare.

// Compiled is a smart link's URL and options in the L1's form.
type Compiled string

const (
	compiledMagic = 0xA7
	headerLen     = 16
	// flagOverride is QueryOverride, in the header's flags byte.
	flagOverride = 1
	hasAll       = HasPassword | HasMaxClicks | HasExpiredURL | HasRules | HasTargets |
		HasForwardQuery | HasPreview | HasCacheMaxAge
	maxStr = 1<<16 - 1
)

// sections are the optional parts after the url, in the order they are
// written; HasForwardQuery has no bytes of its own.
var sections = [...]Has{HasPassword, HasMaxClicks, HasExpiredURL, HasCacheMaxAge, HasPreview, HasRules, HasTargets}

// Compile encodes url (the link's Location, already checked) and o (which
// passed Validate) for the L1. It fails for what the layout cannot hold
// (a string over 64 KiB, a device, os or browser value Validate refuses),
// so that a link that would decode wrongly never reaches the cache.
func Compile(url string, o Options) (Compiled, error) {
	var has Has
	var flags byte
	if o.PasswordHash != "" {
		has |= HasPassword
	}
	if o.MaxClicks > 0 {
		has |= HasMaxClicks
	}
	if o.ExpiredURL != "" {
		has |= HasExpiredURL
	}
	if o.CacheMaxAge > 0 {
		has |= HasCacheMaxAge
	}
	if o.Preview != nil {
		has |= HasPreview
	}
	if len(o.Rules) > 0 {
		has |= HasRules
	}
	if len(o.Targets) > 0 {
		has |= HasTargets
	}
	if o.ForwardQuery {
		has |= HasForwardQuery
	}
	if o.QueryOverride {
		flags |= flagOverride
	}
	if len(o.Rules) > MaxRules || len(o.Targets) > MaxTargets {
		return "", fmt.Errorf("smartlink: compile: %d rules, %d targets: over the limits", len(o.Rules), len(o.Targets))
	}
	b := make([]byte, headerLen, headerLen+len(url)+64)
	b[0] = compiledMagic
	binary.LittleEndian.PutUint16(b[1:], uint16(has))
	b[3] = flags
	binary.LittleEndian.PutUint64(b[8:], splitSalt(url, o.Targets))
	w := writer{b: b}
	w.str("url", url)
	if has&HasPassword != 0 {
		w.str("password", o.PasswordHash)
	}
	if has&HasMaxClicks != 0 {
		w.b = binary.LittleEndian.AppendUint64(w.b, uint64(o.MaxClicks))
	}
	if has&HasExpiredURL != 0 {
		w.str("expired_url", o.ExpiredURL)
	}
	if has&HasCacheMaxAge != 0 {
		w.b = binary.LittleEndian.AppendUint32(w.b, uint32(o.CacheMaxAge))
	}
	if p := o.Preview; p != nil {
		w.str("preview.title", p.Title)
		w.str("preview.description", p.Description)
		w.str("preview.image", p.Image)
	}
	if has&HasRules != 0 {
		w.b = append(w.b, byte(len(o.Rules)))
		for i, r := range o.Rules {
			at := len(w.b)
			w.b = append(w.b, 0, 0, 0, 0)
			w.rule(fmt.Sprintf("rules[%d]", i), r)
			binary.LittleEndian.PutUint32(w.b[at:], uint32(len(w.b)-at-4))
		}
	}
	if has&HasTargets != 0 {
		w.b = append(w.b, byte(len(o.Targets)))
		for i, t := range o.Targets {
			if t.Weight < 1 || t.Weight > TotalWeight {
				return "", fmt.Errorf("smartlink: compile: targets[%d].weight %d out of range", i, t.Weight)
			}
			w.b = append(w.b, byte(t.Weight))
			w.str(fmt.Sprintf("targets[%d].url", i), t.URL)
		}
	}
	if w.err != nil {
		return "", w.err
	}
	binary.LittleEndian.PutUint32(w.b[4:], uint32(len(w.b)))
	return Compiled(w.b), nil
}

// splitSalt makes the variant a visitor gets differ between links: it
// hashes the link's URL and its variants' URLs (not the weights, so that
// moving weight keeps most visitors where they were). It is computed at
// Compile, so every edge picks alike.
func splitSalt(url string, ts []Target) uint64 {
	if len(ts) == 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(url))
	for _, t := range ts {
		h.Write([]byte{0})
		h.Write([]byte(t.URL))
	}
	return h.Sum64()
}

// Rule condition bits, the first byte of a compiled rule.
const (
	condDevice = 1 << iota
	condOS
	condBrowser
	condCountry
	condLanguage
	condQuery
	condAfter
	condBefore
)

// writer appends to the layout, keeping the first error.
type writer struct {
	b   []byte
	err error
}

func (w *writer) str(field, s string) {
	if len(s) > maxStr {
		w.fail(fmt.Errorf("smartlink: compile: %s is %d bytes, the L1 holds at most %d", field, len(s), maxStr))
		return
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// rule appends a rule: a byte of cond bits, then for each set bit in bit
// order: device, os and browser as a uint32 mask over Devices, Systems
// and Browsers; country as a count byte and two upper-case letters each;
// language as a count byte and per tag a length byte and the lower-case
// tag; query as a count byte and str name, str value pairs sorted by
// name; after and before as int64 Unix seconds and uint32 nanoseconds.
// Then str url.
func (w *writer) rule(path string, r Rule) {
	c := r.When
	var bits byte
	for _, b := range [...]struct {
		bit byte
		set bool
	}{
		{condDevice, len(c.Device) > 0}, {condOS, len(c.OS) > 0}, {condBrowser, len(c.Browser) > 0},
		{condCountry, len(c.Country) > 0}, {condLanguage, len(c.Language) > 0}, {condQuery, len(c.Query) > 0},
		{condAfter, !c.After.IsZero()}, {condBefore, !c.Before.IsZero()},
	} {
		if b.set {
			bits |= b.bit
		}
	}
	w.b = append(w.b, bits)
	w.mask(path+".when.device", c.Device, Devices)
	w.mask(path+".when.os", c.OS, Systems)
	w.mask(path+".when.browser", c.Browser, Browsers)
	if len(c.Country) > MaxValues || len(c.Language) > MaxValues || len(c.Query) > MaxQuery {
		w.fail(fmt.Errorf("smartlink: compile: %s lists too many values", path))
		return
	}
	if len(c.Country) > 0 {
		w.b = append(w.b, byte(len(c.Country)))
		for _, v := range c.Country {
			if len(v) != 2 {
				w.fail(fmt.Errorf("smartlink: compile: %s.when.country %q is not two letters", path, v))
				return
			}
			w.b = append(w.b, strings.ToUpper(v)...)
		}
	}
	if len(c.Language) > 0 {
		w.b = append(w.b, byte(len(c.Language)))
		for _, v := range c.Language {
			if v == "" || len(v) > 255 {
				w.fail(fmt.Errorf("smartlink: compile: %s.when.language %q is not a language tag", path, v))
				return
			}
			w.b = append(w.b, byte(len(v)))
			w.b = append(w.b, strings.ToLower(v)...)
		}
	}
	if len(c.Query) > 0 {
		names := make([]string, 0, len(c.Query))
		for k := range c.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		w.b = append(w.b, byte(len(names)))
		for _, k := range names {
			w.str(path+".when.query", k)
			w.str(path+".when.query", c.Query[k])
		}
	}
	for _, t := range [...]time.Time{c.After, c.Before} {
		if !t.IsZero() {
			w.b = binary.LittleEndian.AppendUint64(w.b, uint64(t.Unix()))
			w.b = binary.LittleEndian.AppendUint32(w.b, uint32(t.Nanosecond()))
		}
	}
	w.str(path+".url", r.URL)
}

// mask appends the bit mask of values over known, if there are values.
func (w *writer) mask(field string, values, known []string) {
	if len(values) == 0 {
		return
	}
	var m uint32
	for _, v := range values {
		i := slices.Index(known, strings.ToLower(v))
		if i < 0 || i >= 32 {
			w.fail(fmt.Errorf("smartlink: compile: %s: unknown value %q", field, v))
			return
		}
		m |= 1 << i
	}
	w.b = binary.LittleEndian.AppendUint32(w.b, m)
}

// reader reads the layout without allocating; past the end (or after a
// bad length) every read returns zero and bad stays set.
type reader struct {
	s   string
	i   int
	bad bool
}

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || len(r.s)-r.i < n {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) u8() byte {
	if !r.need(1) {
		return 0
	}
	r.i++
	return r.s[r.i-1]
}

func (r *reader) u16() int {
	if !r.need(2) {
		return 0
	}
	r.i += 2
	return int(r.s[r.i-2]) | int(r.s[r.i-1])<<8
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	s := r.s[r.i : r.i+4]
	r.i += 4
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (r *reader) u64() uint64 {
	lo := r.u32()
	return uint64(lo) | uint64(r.u32())<<32
}

func (r *reader) bytes(n int) string {
	if !r.need(n) {
		return ""
	}
	r.i += n
	return r.s[r.i-n : r.i]
}

func (r *reader) str() string { return r.bytes(r.u16()) }

// skip passes over section h.
func (r *reader) skip(h Has) {
	switch h {
	case HasPassword, HasExpiredURL:
		r.str()
	case HasMaxClicks:
		r.bytes(8)
	case HasCacheMaxAge:
		r.bytes(4)
	case HasPreview:
		r.str()
		r.str()
		r.str()
	case HasRules:
		for n := r.u8(); n > 0 && !r.bad; n-- {
			r.bytes(int(r.u32()))
		}
	case HasTargets:
		for n := r.u8(); n > 0 && !r.bad; n-- {
			r.u8()
			r.str()
		}
	}
}

// open checks the header and returns a reader at the url; has is 0 (and
// the reader bad) for a malformed c.
func (c Compiled) open() (r reader, has Has) {
	s := string(c)
	if len(s) < headerLen || s[0] != compiledMagic || s[3]&^flagOverride != 0 {
		return reader{bad: true}, 0
	}
	has = Has(s[1]) | Has(s[2])<<8
	total := int(s[4]) | int(s[5])<<8 | int(s[6])<<16 | int(s[7])<<24
	if has&^hasAll != 0 || total != len(s) {
		return reader{bad: true}, 0
	}
	return reader{s: s, i: headerLen}, has
}

// section returns a reader at section h, ok false when c lacks it or is
// malformed.
func (c Compiled) section(h Has) (r reader, ok bool) {
	r, has := c.open()
	if has&h == 0 {
		return r, false
	}
	r.str()
	for _, s := range sections {
		if s == h {
			return r, !r.bad
		}
		if has&s != 0 {
			r.skip(s)
		}
	}
	return r, false
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

// Has returns the bits of the options c holds; 0 for a malformed c. It
// checks the header only (magic, known bits, length): a Compiled damaged
// inside reads as zero values from the accessors.
func (c Compiled) Has() Has {
	_, has := c.open()
	return has
}

// URL is the link's own target.
func (c Compiled) URL() string {
	r, _ := c.open()
	return r.str()
}

// PasswordHash, MaxClicks, ExpiredURL and CacheMaxAge return those options
// ("" or 0 when absent).
func (c Compiled) PasswordHash() string {
	r, ok := c.section(HasPassword)
	if !ok {
		return ""
	}
	return r.str()
}

// MaxClicks returns the click limit, 0 for none.
func (c Compiled) MaxClicks() int64 {
	r, ok := c.section(HasMaxClicks)
	if !ok {
		return 0
	}
	n := int64(r.u64())
	if n < 0 {
		return 0
	}
	return n
}

// ExpiredURL returns where an expired, exhausted or disabled link sends
// its visitors; "" for 410.
func (c Compiled) ExpiredURL() string {
	r, ok := c.section(HasExpiredURL)
	if !ok {
		return ""
	}
	return r.str()
}

// CacheMaxAge returns the link's cache lifetime in seconds, 0 for the
// edge's default.
func (c Compiled) CacheMaxAge() int {
	r, ok := c.section(HasCacheMaxAge)
	if !ok {
		return 0
	}
	n := r.u32()
	if n > MaxCacheMaxAge {
		return 0
	}
	return int(n)
}

// Preview returns the link's preview, ok false when it has none.
func (c Compiled) Preview() (p Preview, ok bool) {
	r, ok := c.section(HasPreview)
	if !ok {
		return Preview{}, false
	}
	p = Preview{Title: r.str(), Description: r.str(), Image: r.str()}
	if r.bad {
		return Preview{}, false
	}
	return p, true
}

// QueryOverride reports whether the visitor's query parameters win over
// the link's (forward_query_override).
func (c Compiled) QueryOverride() bool {
	_, has := c.open()
	return has&HasForwardQuery != 0 && c[3]&flagOverride != 0
}

// Choice says which of a link's targets a click went to, for the click
// event and the stats: ChoiceURL (the link's url), a rule or a variant.
// It fits a byte: 0 the URL, 1 to MaxRules rules[0..], 64 to
// 64+MaxTargets-1 targets[0..].
type Choice uint8

// ChoiceURL is the link's own url: no rule held and there is no split.
const ChoiceURL Choice = 0

// RuleChoice returns the Choice of rules[i].
func RuleChoice(i int) Choice { return Choice(1 + i) }

// TargetChoice returns the Choice of targets[i].
func TargetChoice(i int) Choice { return Choice(64 + i) }

// choiceNames are Choice.String's answers, built once so that naming a
// choice on the click path does not allocate.
var choiceNames = func() (names [256]string) {
	for i := range names {
		names[i] = "unknown"
	}
	names[ChoiceURL] = "url"
	for i := range MaxRules {
		names[RuleChoice(i)] = fmt.Sprintf("rules[%d]", i)
	}
	for i := range MaxTargets {
		names[TargetChoice(i)] = fmt.Sprintf("targets[%d]", i)
	}
	return names
}()

// String is the choice as the stats name it: "url", "rules[2]",
// "targets[0]" (the JSON path of the link's field it came from), or
// "unknown" for a byte no link writes.
func (c Choice) String() string { return choiceNames[c] }
