package l2cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/workspace"
)

// The first byte of every value says what follows, and in which version of
// the format. A reader that meets a tag it does not know treats the value as
// an error (and so as a miss), which lets a newer writer change the layout
// without older edges misreading it.
const (
	// tagLinkV1 is a link:
	//
	//	0x01  flags  uvarint(status)  uvarint(id)  [varint(expires, Unix µs)]  uvarint(len(url))  url
	//
	// flags: bit 0 disabled, bit 1 expires-present, bit 2
	// workspace-present; other bits must be 0. With bit 2, uvarint(workspace
	// ID) follows the ID: it is written only for links outside the default
	// workspace, so that edges that predate workspaces keep reading every
	// default-workspace value (a value with bit 2 is corrupt to them: a
	// miss, and they read the store), and a value without it is a link of
	// the default workspace.
	// The URL length is redundant with the value's length on purpose: a
	// truncated or padded value fails to decode instead of yielding a
	// shortened URL.
	tagLinkV1 byte = 0x01
	// tagTombstoneV1 marks a deleted link (exactly one byte): see Delete.
	tagTombstoneV1 byte = 0x02
	// tagTakenDownV1 is a link an administrator took down: tagLinkV1's
	// layout with the takedown between the expiry and the URL:
	//
	//	0x03  flags  uvarint(status)  uvarint(id)  [varint(expires, Unix µs)]
	//	      varint(takedown at, Unix µs)  uvarint(len(reason))  reason  uvarint(len(url))  url
	//
	// A tag of its own, written only for taken-down links, so that edges
	// that predate takedowns keep reading every other value; they read
	// this one as corrupt (a miss), go to the store, and (not knowing
	// takedowns) redirect, as they did before: upgrade edges first.
	tagTakenDownV1 byte = 0x03
	// tagSmartV1 is a link with smart options (linkstore.Link.Smart not
	// zero): tagLinkV1's layout, with tagTakenDownV1's takedown fields
	// when flags bit 3 is set, followed by the options' stored JSON
	// (smartlink.Options.MarshalStored):
	//
	//	0x04  flags  uvarint(status)  uvarint(id)  [uvarint(workspace)]  [varint(expires, Unix µs)]
	//	      [varint(takedown at, Unix µs)  uvarint(len(reason))  reason]
	//	      uvarint(len(url))  url  uvarint(len(json))  json
	//
	// Written only for smart links, so that plain links keep the forms
	// older edges read; an edge that predates smart links reads this one
	// as corrupt (a miss) and goes to the store, as with takedowns.
	// JSON and not a binary form: the L2 holds few smart links next to
	// many plain ones, and the stored form is already defined, checked
	// (ParseStored) and versioned by its field names.
	tagSmartV1 byte = 0x04
)

const (
	flagDisabled  byte = 1 << 0
	flagExpires   byte = 1 << 1
	flagWorkspace byte = 1 << 2
	// flagTakenDown is tagSmartV1's: the takedown fields follow.
	flagTakenDown byte = 1 << 3
	flagsKnown         = flagDisabled | flagExpires | flagWorkspace
)

// maxSmartLen bounds the options' JSON in a value: far above what Validate
// lets through (20 rules and a split of bounded URLs), it only keeps a
// corrupted length from being trusted.
const maxSmartLen = 1 << 20

// maxReasonLen bounds the takedown reason in a value, in bytes: the
// control plane accepts linkstore.MaxTakedownReason characters, at most 4
// bytes each.
const maxReasonLen = 4 * linkstore.MaxTakedownReason

// maxURLLen bounds the URL in a value. The control plane accepts far shorter
// URLs; the bound only keeps a corrupted length from being trusted.
const maxURLLen = 1 << 16

// ErrCorrupt is wrapped by the error of Get when the stored bytes are not a
// value this package wrote (or one of a format version it does not know).
var ErrCorrupt = errors.New("l2cache: corrupt value")

// encodeLink appends the tagLinkV1 encoding of l to dst, the
// tagTakenDownV1 encoding of a taken-down l, or the tagSmartV1 encoding of
// a smart l. It does not encode Code (it is the key), CreatedAt (the
// redirect path does not need it), nor the retirement (an expired link is
// never written, and a deleted one is a tombstone). It fails only when the
// options cannot be encoded.
func encodeLink(dst []byte, l linkstore.Link) ([]byte, error) {
	smart, err := l.Smart.MarshalStored()
	if err != nil {
		return nil, fmt.Errorf("l2cache: encode link %d: %w", l.ID, err)
	}
	var flags byte
	if l.Disabled {
		flags |= flagDisabled
	}
	if !l.ExpiresAt.IsZero() {
		flags |= flagExpires
	}
	if l.WorkspaceID != 0 && l.WorkspaceID != workspace.DefaultID {
		flags |= flagWorkspace
	}
	tag := tagLinkV1
	switch {
	case smart != nil:
		tag = tagSmartV1
		if l.TakenDown() {
			flags |= flagTakenDown
		}
	case l.TakenDown():
		tag = tagTakenDownV1
	}
	dst = append(dst, tag, flags)
	dst = binary.AppendUvarint(dst, uint64(l.Status))
	dst = binary.AppendUvarint(dst, uint64(l.ID))
	if flags&flagWorkspace != 0 {
		dst = binary.AppendUvarint(dst, uint64(l.WorkspaceID))
	}
	if flags&flagExpires != 0 {
		dst = binary.AppendVarint(dst, l.ExpiresAt.UnixMicro())
	}
	if tag == tagTakenDownV1 || flags&flagTakenDown != 0 {
		dst = binary.AppendVarint(dst, l.TakedownAt.UnixMicro())
		dst = binary.AppendUvarint(dst, uint64(len(l.TakedownReason)))
		dst = append(dst, l.TakedownReason...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(l.URL)))
	dst = append(dst, l.URL...)
	if tag == tagSmartV1 {
		dst = binary.AppendUvarint(dst, uint64(len(smart)))
		dst = append(dst, smart...)
	}
	return dst, nil
}

// decoded is what a value holds: a link, or a tombstone.
type decoded struct {
	link      linkstore.Link
	tombstone bool
}

// decode parses a value read from Redis. It never panics: anything that is
// not a well-formed value of a known version is an error wrapping
// ErrCorrupt. The link it returns has no Code (the caller knows the key)
// and no CreatedAt.
func decode(b []byte) (decoded, error) {
	if len(b) == 0 {
		return decoded{}, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	switch b[0] {
	case tagTombstoneV1:
		if len(b) != 1 {
			return decoded{}, fmt.Errorf("%w: %d bytes after a tombstone", ErrCorrupt, len(b)-1)
		}
		return decoded{tombstone: true}, nil
	case tagLinkV1, tagTakenDownV1, tagSmartV1:
	default:
		return decoded{}, fmt.Errorf("%w: unknown tag 0x%02x", ErrCorrupt, b[0])
	}
	r := reader{b: b[1:]}
	flags := r.byte()
	known := flagsKnown
	if b[0] == tagSmartV1 {
		known |= flagTakenDown
	}
	status := r.uvarint()
	id := r.uvarint()
	ws := uint64(workspace.DefaultID)
	if flags&flagWorkspace != 0 {
		ws = r.uvarint()
	}
	var expires int64
	if flags&flagExpires != 0 {
		expires = r.varint()
	}
	var (
		takedownAt int64
		reason     string
	)
	if b[0] == tagTakenDownV1 || (b[0] == tagSmartV1 && flags&flagTakenDown != 0) {
		takedownAt = r.varint()
		reason = r.text(maxReasonLen)
		if r.err == nil && (reason == "" || takedownAt == 0 || linkstore.ValidateTakedownReason(reason) != nil) {
			return decoded{}, fmt.Errorf("%w: bad takedown", ErrCorrupt)
		}
	}
	n := r.uvarint()
	if r.err != nil {
		return decoded{}, r.err
	}
	var smart []byte
	if b[0] == tagSmartV1 {
		// The URL is followed by the options: cut it off the rest, which
		// the checks below then read as the URL alone.
		if n > uint64(len(r.b)) {
			return decoded{}, fmt.Errorf("%w: URL length %d, %d bytes left", ErrCorrupt, n, len(r.b))
		}
		rest := reader{b: r.b[n:]}
		smart = []byte(rest.text(maxSmartLen))
		switch {
		case rest.err != nil:
			return decoded{}, rest.err
		case len(rest.b) != 0:
			return decoded{}, fmt.Errorf("%w: %d bytes after the options", ErrCorrupt, len(rest.b))
		case len(smart) == 0:
			return decoded{}, fmt.Errorf("%w: smart link without options", ErrCorrupt)
		}
		r.b = r.b[:n]
	}
	switch {
	case flags&^known != 0:
		return decoded{}, fmt.Errorf("%w: unknown flags 0x%02x", ErrCorrupt, flags)
	case status != 0 && status != 301 && status != 302 && status != 307 && status != 308:
		return decoded{}, fmt.Errorf("%w: status %d", ErrCorrupt, status)
	case id > math.MaxInt64:
		return decoded{}, fmt.Errorf("%w: id out of range", ErrCorrupt)
	case ws == 0 || ws > math.MaxInt64:
		return decoded{}, fmt.Errorf("%w: workspace out of range", ErrCorrupt)
	case n == 0 || n > maxURLLen:
		return decoded{}, fmt.Errorf("%w: URL length %d", ErrCorrupt, n)
	case uint64(len(r.b)) != n:
		return decoded{}, fmt.Errorf("%w: URL length %d, %d bytes left", ErrCorrupt, n, len(r.b))
	}
	for _, c := range r.b {
		// A control character in a Location header is never right, and
		// can only come from corruption.
		if c < 0x20 || c == 0x7f {
			return decoded{}, fmt.Errorf("%w: control character in URL", ErrCorrupt)
		}
	}
	l := linkstore.Link{
		ID:          int64(id),
		URL:         string(r.b),
		Status:      int(status),
		Disabled:    flags&flagDisabled != 0,
		WorkspaceID: int64(ws),
	}
	if flags&flagExpires != 0 {
		l.ExpiresAt = time.UnixMicro(expires).UTC()
	}
	if reason != "" {
		l.TakedownAt, l.TakedownReason = time.UnixMicro(takedownAt).UTC(), reason
	}
	if smart != nil {
		o, err := smartlink.ParseStored(smart)
		if err != nil {
			return decoded{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if o.IsZero() {
			return decoded{}, fmt.Errorf("%w: smart link with zero options", ErrCorrupt)
		}
		l.Smart = o
	}
	return decoded{link: l}, nil
}

// reader reads the fields of a value and keeps the first error, so that
// decode checks once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad or truncated varint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// text reads a uvarint length, at most limit, and that many bytes.
func (r *reader) text(limit uint64) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > limit || n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: text of %d bytes", ErrCorrupt, n)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad or truncated varint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}
