// Package clickevents is the format of the clicks topic: one record per
// redirect the edge served, written by the edge (Emitter) and read by the
// stats service. It also holds the two things the edge computes for an
// event: the bot flag (IsBot) and the keyed visitor hash (VisitorHasher).
//
// The two event topics are laid out alike (this package and
// internal/linkevents): the package documentation has the same sections
// (Records, Value, Evolution, the reason for the encoding, Producer), the
// codec is in codec.go, the record key is the short code (Event.Key), the
// value starts with its format version (Version; a reader refuses others
// with ErrVersion), and the producer's Kafka client comes from
// internal/kafkaprod. Only the encodings differ, for the reasons under
// "Why binary".
//
// # Records
//
// One Kafka record per click. The record key is the short code
// (Event.Key), so the clicks of one code land in one partition; the record
// timestamp is the event time (Event.Time, to the millisecond); the value
// is the binary encoding below, at most MaxSize bytes. Headers are not
// used.
//
// # Value, version 2
//
// Version 2 is version 1's layout (below) with two fields after the
// referrer: the link's workspace and domain. Its version byte is 2.
//
//	varint    workspace: the link's workspace ID, 1 to 2^63-1
//	string    domain: 0 to MaxDomain bytes; "" for the instance's
//	          own host, else a lower-case punycode host name
//	          without port or trailing dot (ValidDomain)
//	1         choice: which target of a smart link the click went to
//	          (smartlink.Choice: 0 the link's url, 1 to 20 rules[0..],
//	          64 and up targets[0..]); added later (smart links,
//	          issue 16), so a value that ends before it has choice 0
//	...       fields added later to version 2 (see Evolution)
//
// A version-2 value is 3 bytes longer than version 1's for the default
// workspace on the instance's host; the largest, 1637 + 9 + 2 + 253 + 1 =
// 1902 bytes.
//
// AppendBinary writes version 2 (a zero Event.Workspace as
// workspace.DefaultID), the choice always; UnmarshalBinary reads both
// versions, a version-1 value as workspace.DefaultID and domain "": the
// clicks of links made before workspaces, on the instance's host. Any
// choice byte decodes (smartlink.Choice names a byte no link writes
// "unknown"), so that a newer edge's choices never make a record skipped.
//
// # Value, version 1
//
// Integers are unsigned LEB128 varints (encoding/binary's Uvarint, at
// most 10 bytes, in the fewest bytes that hold the value) unless said
// otherwise; a string is a varint byte length
// followed by that many bytes of UTF-8.
//
//	offset  size      field
//	0       1         version: 1
//	1       1         flags: bit 0 = Bot; bits 1-7 reserved (written 0)
//	2       varint    time: Unix milliseconds, UTC, 0 to MaxTimeMillis
//	        varint    link ID: the link's Snowflake ID, 0 to 2^63-1
//	        varint    status: the HTTP status served, 100 to 599
//	        8         visitor: the keyed visitor hash, uint64 little-endian
//	                  (fixed width: a hash is uniformly random, a varint
//	                  of it would take 10 bytes); 0 = unknown
//	        2         country: ISO 3166-1 alpha-2, two bytes 'A'-'Z';
//	                  two zero bytes = unknown
//	        string    code: 1 to shortcode.MaxLen bytes, shortcode.WellFormed
//	        string    user agent: 0 to MaxUserAgent bytes
//	        string    referrer: 0 to MaxReferrer bytes
//	        ...       fields added later to version 1 (see Evolution)
//
// A typical event (6-character code, 110-byte user agent, 30-byte
// referrer) takes about 175 bytes; the largest version-1 value,
// 2 + 9 + 9 + 2 + 8 + 2 + 65 + 514 + 1026 = 1637 bytes.
//
// Strings are valid UTF-8 without NUL bytes, so that a consumer can store
// them as PostgreSQL text as they are: AppendBinary replaces invalid UTF-8
// and NUL bytes with U+FFFD, then truncates the user agent and the
// referrer to MaxUserAgent and MaxReferrer bytes at a character boundary.
// UnmarshalBinary refuses a value that breaks any rule above
// (ErrMalformed), so what it accepts AppendBinary writes again unchanged.
//
// # Evolution
//
// A version may grow only at the end: a field added later goes after its
// last field (the referrer in version 1, the choice in version 2), a
// reader of an older value, which ends before the field, takes its zero
// value, and a reader ignores bytes after the fields it knows (the choice
// was so added: a stats service from before ignores it, and reads such
// values as it did). A new flag whose meaning old readers may safely
// ignore takes a reserved bit (readers ignore bits they do not know). Anything that
// version-1 readers would misread (a field removed, moved or reinterpreted,
// a bound raised) makes version 2, which those readers refuse with
// ErrVersion: the stats service skips such records and counts them, so
// consumers are upgraded before producers. MaxSize bounds every value,
// additions included.
//
// Version 2 was made so (workspaces, issue 15): a version-1 reader would
// take every click for the default workspace's. Upgrade the stats service
// before the edges; until then it skips the edges' version-2 records.
//
// # Why binary
//
// Clicks are the hot stream: the edge writes one per redirect, and one
// stats consumer must ingest 200,000 a second on two cores, 10 µs of CPU
// an event for everything. Decoding this layout is a few bounds checks and
// varints and two allocations (the code; the user agent and referrer
// together): about 330 ns of CPU on this machine, encoding about 90 ns
// with none (BenchmarkUnmarshalBinary, BenchmarkAppendBinary), where JSON
// would cost microseconds and a dozen allocations. The fixed field order
// also keeps events small: a typical one is about 195 bytes, 46 in an
// lz4-compressed batch (BenchmarkCompression). Readability is kept by this
// documentation and the decoder.
//
// # Producer
//
// The Emitter (emitter.go) publishes events without ever making a request
// wait: it encodes into pooled buffers, hands records to the client with
// TryProduce and drops (and counts) what a full buffer cannot take. Its
// client is kafkaprod.NewClient's, as the link-events producer's is:
// idempotent, keyed by code with Kafka's murmur2 partitioning, compressed
// (lz4 by default here, see Config.Compression). The emitter lives in this
// package, not beside it, because it writes the key as a slice of the
// encoded value (no allocation per event), which needs the codec's
// internals.
package clickevents

import (
	"errors"
	"time"

	"github.com/shortify/shortify/internal/domainname"
)

// ValidDomain reports whether d may be an event's domain: "" (the
// instance's own host) or a domain name in the stored form
// (domainname.Check: lower-case punycode, without port or trailing dot).
func ValidDomain(d string) bool {
	return d == "" || domainname.Check(d) == nil
}

// Version is the format version that AppendBinary writes; UnmarshalBinary
// reads it and VersionWithoutWorkspace.
const Version = 2

// VersionWithoutWorkspace is the format of the edges before workspaces:
// its events decode as workspace.DefaultID's, on domain "".
const VersionWithoutWorkspace = 1

// DefaultTopic is the clicks topic's name unless configured.
const DefaultTopic = "clicks"

// Bounds of the strings kept in an event, in bytes.
const (
	// MaxUserAgent bounds the user agent; longer ones are truncated on
	// encode, at a UTF-8 character boundary.
	MaxUserAgent = 512
	// MaxReferrer bounds the referrer, truncated likewise.
	MaxReferrer = 1024
	// MaxDomain bounds the domain, a DNS name.
	MaxDomain = domainname.MaxLen
)

// MaxSize bounds an encoded value, fields added later included;
// UnmarshalBinary refuses a longer one.
const MaxSize = 4096

// MaxTimeMillis is the latest event time that encodes,
// 9999-12-31T23:59:59.999Z in Unix milliseconds; the earliest is the Unix
// epoch.
const MaxTimeMillis = 253402300799999

// Flag bits of the second byte.
const flagBot = 1 << 0

// ErrVersion is wrapped by UnmarshalBinary's error for a value of a format
// version this package does not read: skip the record.
var ErrVersion = errors.New("unsupported click event version")

// ErrMalformed is wrapped by UnmarshalBinary's error for a value that
// breaks the format (truncated, a bound exceeded, a field out of range);
// the error says which rule.
var ErrMalformed = errors.New("malformed click event")

// ErrInvalid is wrapped by AppendBinary's error for an event that cannot
// be encoded: a code that is not well-formed, a time, link ID, status or
// country out of range. Nothing is appended then.
var ErrInvalid = errors.New("invalid click event")

// Event is one click: a redirect the edge served.
type Event struct {
	// Time is when the edge answered; it is encoded in Unix milliseconds
	// (UTC) and decodes in UTC.
	Time time.Time
	// Code is the short code (shortcode.WellFormed).
	Code string
	// LinkID is the link's Snowflake ID.
	LinkID int64
	// Status is the HTTP status the edge served (301, 302, 307, 308).
	Status uint16
	// Visitor identifies the client: a keyed 64-bit hash (VisitorHasher),
	// 0 when unknown. Never the raw IP.
	Visitor uint64
	// Country is the client's ISO 3166-1 alpha-2 country code in upper
	// case, taken from a configurable header (see NormalizeCountry); ""
	// when unknown.
	Country string
	// Bot is set for known crawlers, link-preview agents and automation
	// (IsBot).
	Bot bool
	// UserAgent is the User-Agent header.
	UserAgent string
	// Referrer is the Referer header.
	Referrer string
	// Workspace is the link's workspace ID; 0 encodes as
	// workspace.DefaultID (and decodes as it).
	Workspace int64
	// Domain is the link's custom domain, "" for the instance's own host
	// (ValidDomain).
	Domain string
	// Choice is which of a smart link's targets the click went to
	// (smartlink.Choice: the url, a rule or a split's variant); 0, the
	// link's url, for every plain link.
	Choice uint8
}

// Key returns the record key of e: its code. The Emitter writes the same
// bytes as a slice of the encoded value instead, to save an allocation.
func (e *Event) Key() []byte { return []byte(e.Code) }

// NormalizeCountry turns a country header's value (Cloudflare's
// CF-IPCountry, a GeoIP module's header) into Event.Country: two ASCII
// letters in upper case, or "" for anything else, including the "XX" and
// "T1" (Tor) that Cloudflare sends for unknown countries.
func NormalizeCountry(v string) string {
	if len(v) != 2 {
		return ""
	}
	a, b := v[0]&^0x20, v[1]&^0x20 // ASCII upper case
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' || (a == 'X' && b == 'X') {
		return ""
	}
	return countryString(a, b)
}

// countries holds every two-letter code as a string, so that decoding
// and NormalizeCountry allocate nothing for it.
var countries = func() (t [26 * 26]string) {
	for i := range t {
		t[i] = string([]byte{'A' + byte(i/26), 'A' + byte(i%26)})
	}
	return t
}()

// countryString returns the interned code of two letters 'A'-'Z'.
func countryString(a, b byte) string {
	return countries[int(a-'A')*26+int(b-'A')]
}
