package linkevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/domainname"
	"github.com/shortify/shortify/internal/shortcode"
)

// ErrInvalid is wrapped by the errors of Encode and Decode for an event
// that breaks the format: malformed JSON, a missing or wrong field, an
// unknown type, a record key that is not the code.
var ErrInvalid = errors.New("invalid link event")

// ErrVersion is wrapped by Decode's error for an event of a format version
// this package does not read (a newer producer): skip the record.
var ErrVersion = errors.New("unsupported link event version")

// wireEvent is the JSON form of an Event.
type wireEvent struct {
	V    int    `json:"v"`
	Type Type   `json:"type"`
	Code string `json:"code"`
	// Domain and Workspace are added to version 1: older readers ignore
	// them.
	Domain    string    `json:"domain,omitempty"`
	Workspace int64     `json:"workspace,omitempty"`
	LinkID    string    `json:"link_id,omitempty"`
	At        string    `json:"at"`
	Link      *wireLink `json:"link,omitempty"`
	Reason    Reason    `json:"reason,omitempty"`
	// PurgeStats is added to version 1: older readers ignore it.
	PurgeStats bool `json:"purge_stats,omitempty"`
}

// wireLink is the JSON form of a State.
type wireLink struct {
	URL            string `json:"url"`
	RedirectStatus int    `json:"redirect_status,omitempty"`
	ExpiresAt      string `json:"expires_at,omitempty"`
	Disabled       bool   `json:"disabled"`
}

// Encode returns the record value of e, or an error wrapping ErrInvalid
// when e breaks the format (so that nothing invalid is ever published).
func Encode(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	w := wireEvent{V: Version, Type: e.Type, Code: e.Code, Domain: e.Domain, Workspace: e.Workspace, At: formatTime(e.At), Reason: e.Reason, PurgeStats: e.PurgeStats}
	if e.LinkID != 0 {
		w.LinkID = strconv.FormatInt(e.LinkID, 10)
	}
	if e.Type != Deleted {
		w.Link = &wireLink{URL: e.State.URL, RedirectStatus: e.State.Status, Disabled: e.State.Disabled}
		if !e.State.ExpiresAt.IsZero() {
			w.Link.ExpiresAt = formatTime(e.State.ExpiresAt)
		}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("linkevents: encode %s event of %q: %w", e.Type, e.Code, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("linkevents: encode %s event of %q: %d bytes, more than %d: %w", e.Type, e.Code, len(b), MaxSize, ErrInvalid)
	}
	return b, nil
}

// Decode reads a record value. Garbage, a missing or wrong field, or a
// value over MaxSize gives an error wrapping ErrInvalid; another format
// version, one wrapping ErrVersion. Fields it does not know are ignored
// (see "Evolution" in the package documentation).
func Decode(value []byte) (Event, error) {
	if len(value) > MaxSize {
		return Event{}, fmt.Errorf("linkevents: decode: %d bytes, more than %d: %w", len(value), MaxSize, ErrInvalid)
	}
	var w wireEvent
	if err := json.Unmarshal(value, &w); err != nil {
		return Event{}, fmt.Errorf("linkevents: decode: %w: %w", ErrInvalid, err)
	}
	switch {
	case w.V < 1:
		return Event{}, fmt.Errorf("linkevents: decode: no version (\"v\"): %w", ErrInvalid)
	case w.V != Version:
		return Event{}, fmt.Errorf("linkevents: decode: version %d, this reader knows %d: %w", w.V, Version, ErrVersion)
	}
	e := Event{Type: w.Type, Code: w.Code, Domain: w.Domain, Workspace: w.Workspace, Reason: w.Reason, PurgeStats: w.PurgeStats}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("linkevents: decode %s event of %q: %s: %w", w.Type, w.Code, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if w.LinkID != "" {
		id, err := strconv.ParseInt(w.LinkID, 10, 64)
		if err != nil {
			return bad("link_id %q is not a decimal 64-bit integer", w.LinkID)
		}
		e.LinkID = id
	}
	var err error
	if e.At, err = parseTime(w.At); err != nil {
		return bad("at: %v", err)
	}
	switch {
	case w.Link == nil && w.Type != Deleted:
		return bad("no link state")
	case w.Link != nil && w.Type == Deleted:
		return bad("a deleted event carries no link state")
	case w.Link != nil:
		e.State = State{URL: w.Link.URL, Status: w.Link.RedirectStatus, Disabled: w.Link.Disabled}
		if w.Link.ExpiresAt != "" {
			if e.State.ExpiresAt, err = parseTime(w.Link.ExpiresAt); err != nil {
				return bad("link.expires_at: %v", err)
			}
		}
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("linkevents: decode: %w", err)
	}
	return e, nil
}

// DecodeRecord decodes a record's value as Decode does and checks that
// its key is the event's code.
func DecodeRecord(key, value []byte) (Event, error) {
	e, err := Decode(value)
	if err != nil {
		return Event{}, err
	}
	if !bytes.Equal(key, []byte(e.Code)) {
		return Event{}, fmt.Errorf("linkevents: decode: record key %q is not the code %q: %w", key, e.Code, ErrInvalid)
	}
	return e, nil
}

// Validate checks e against the format (see the package documentation);
// its error wraps ErrInvalid.
func (e Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("linkevents: %s event of %q: %s: %w", e.Type, e.Code, fmt.Sprintf(format, args...), ErrInvalid)
	}
	switch e.Type {
	case Created, Updated, Disabled, Deleted:
	default:
		return bad("unknown type %q", e.Type)
	}
	if !shortcode.WellFormed(e.Code) {
		return bad("the code is not 1 to %d characters of [A-Za-z0-9_-]", shortcode.MaxLen)
	}
	if e.Domain != "" {
		if err := domainname.Check(e.Domain); err != nil {
			return bad("domain: %v", err)
		}
	}
	if e.Workspace < 0 {
		return bad("workspace %d is negative", e.Workspace)
	}
	if e.LinkID < 0 || (e.LinkID == 0 && e.Type != Deleted) {
		return bad("link ID %d is not positive", e.LinkID)
	}
	if err := checkTime(e.At); err != nil {
		return bad("event time: %v", err)
	}
	if e.Type == Deleted {
		if e.State != (State{}) {
			return bad("a deleted event carries no link state")
		}
		if e.Reason != ReasonAPI && e.Reason != ReasonExpired {
			return bad("reason %q is neither %q nor %q", e.Reason, ReasonAPI, ReasonExpired)
		}
		return nil
	}
	if e.Reason != "" || e.PurgeStats {
		return bad("only deleted events have a reason or purge_stats")
	}
	s := e.State
	switch {
	case s.URL == "":
		return bad("empty URL")
	case len(s.URL) > maxURLBytes:
		return bad("URL of %d bytes, more than %d", len(s.URL), maxURLBytes)
	case !utf8.ValidString(s.URL):
		return bad("URL is not valid UTF-8")
	}
	switch s.Status {
	case 0, 301, 302, 307, 308:
	default:
		return bad("redirect status %d is not 0, 301, 302, 307 or 308", s.Status)
	}
	if !s.ExpiresAt.IsZero() {
		if err := checkTime(s.ExpiresAt); err != nil {
			return bad("expiry: %v", err)
		}
	}
	if s.Disabled != (e.Type == Disabled) {
		return bad("disabled is %t", s.Disabled)
	}
	return nil
}

// formatTime writes t as the format's RFC 3339 time in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime reads an RFC 3339 time and returns it in UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// checkTime refuses the zero time and times that RFC 3339 cannot write
// (years outside 1..9999 in UTC).
func checkTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("missing")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("year %d is outside 1..9999", y)
	}
	return nil
}
