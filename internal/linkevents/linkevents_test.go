package linkevents

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

var (
	at      = time.Date(2026, 11, 26, 19, 0, 0, 123456000, time.UTC)
	expires = time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC)
	link    = linkstore.Link{
		ID: 1234567890123456789, Code: "a9ZkQ2", URL: "https://example.com/new", Status: 308,
		CreatedAt: at.Add(-time.Hour), ExpiresAt: expires,
	}
)

// equal compares events, times by instant.
func equal(a, b Event) bool {
	return a.Type == b.Type && a.Code == b.Code && a.LinkID == b.LinkID && a.At.Equal(b.At) &&
		a.Reason == b.Reason && a.PurgeStats == b.PurgeStats && a.State.URL == b.State.URL && a.State.Status == b.State.Status &&
		a.State.ExpiresAt.Equal(b.State.ExpiresAt) && a.State.Disabled == b.State.Disabled
}

func TestEncodeGolden(t *testing.T) {
	disabled := link
	disabled.Disabled, disabled.ExpiresAt, disabled.Status = true, time.Time{}, 0
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"updated", NewUpdated(link, at),
			`{"v":1,"type":"updated","code":"a9ZkQ2","link_id":"1234567890123456789","at":"2026-11-26T19:00:00.123456Z",` +
				`"link":{"url":"https://example.com/new","redirect_status":308,"expires_at":"2030-12-31T23:59:59Z","disabled":false}}`},
		{"disabled", NewUpdated(disabled, at),
			`{"v":1,"type":"disabled","code":"a9ZkQ2","link_id":"1234567890123456789","at":"2026-11-26T19:00:00.123456Z",` +
				`"link":{"url":"https://example.com/new","disabled":true}}`},
		{"created", NewCreated(link, at.In(time.FixedZone("UTC+1", 3600))),
			`{"v":1,"type":"created","code":"a9ZkQ2","link_id":"1234567890123456789","at":"2026-11-26T19:00:00.123456Z",` +
				`"link":{"url":"https://example.com/new","redirect_status":308,"expires_at":"2030-12-31T23:59:59Z","disabled":false}}`},
		{"deleted, expired", NewDeleted(linkstore.Link{Code: "a9ZkQ2", ID: 1234567890123456789}, ReasonExpired, at),
			`{"v":1,"type":"deleted","code":"a9ZkQ2","link_id":"1234567890123456789","at":"2026-11-26T19:00:00.123456Z","reason":"expired"}`},
		{"deleted through the API, ID unknown", NewDeleted(linkstore.Link{Code: "my-alias_1", ID: 0}, ReasonAPI, at),
			`{"v":1,"type":"deleted","code":"my-alias_1","at":"2026-11-26T19:00:00.123456Z","reason":"api"}`},
		{"deleted through the API, statistics purged", NewDeleted(linkstore.Link{Code: "a9ZkQ2", ID: 1234567890123456789}, ReasonAPI, at).WithPurge(),
			`{"v":1,"type":"deleted","code":"a9ZkQ2","link_id":"1234567890123456789","at":"2026-11-26T19:00:00.123456Z","reason":"api","purge_stats":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("Encode:\n got %s\nwant %s", b, tt.want)
			}
			got, err := DecodeRecord(tt.e.Key(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, tt.e) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.e)
			}
		})
	}
}

func TestEncodeRefusesInvalidEvents(t *testing.T) {
	ok := NewUpdated(link, at)
	tests := []struct {
		name string
		edit func(e *Event)
	}{
		{"unknown type", func(e *Event) { e.Type = "expired" }},
		{"empty code", func(e *Event) { e.Code = "" }},
		{"bad code", func(e *Event) { e.Code = "a/b" }},
		{"long code", func(e *Event) { e.Code = strings.Repeat("a", 65) }},
		{"no link ID", func(e *Event) { e.LinkID = 0 }},
		{"negative link ID", func(e *Event) { e.LinkID = -1 }},
		{"no time", func(e *Event) { e.At = time.Time{} }},
		{"year 10000", func(e *Event) { e.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"no URL", func(e *Event) { e.State.URL = "" }},
		{"huge URL", func(e *Event) { e.State.URL = "https://x.example/" + strings.Repeat("a", 32<<10) }},
		{"invalid UTF-8 URL", func(e *Event) { e.State.URL = "https://x.example/\xff" }},
		{"bad status", func(e *Event) { e.State.Status = 303 }},
		{"disabled state in an update", func(e *Event) { e.State.Disabled = true }},
		{"enabled state in a disabled event", func(e *Event) { e.Type = Disabled }},
		{"reason on an update", func(e *Event) { e.Reason = ReasonAPI }},
		{"purge on an update", func(e *Event) { e.PurgeStats = true }},
		{"deletion without reason", func(e *Event) { *e = NewDeleted(linkstore.Link{Code: "abc", ID: 1}, "", at) }},
		{"deletion with an unknown reason", func(e *Event) { *e = NewDeleted(linkstore.Link{Code: "abc", ID: 1}, "gone", at) }},
		{"deletion with state", func(e *Event) {
			*e = NewDeleted(linkstore.Link{Code: "abc", ID: 1}, ReasonAPI, at)
			e.State.URL = "https://x.example/"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.edit(&e)
			if _, err := Encode(e); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode(%+v) = %v, want ErrInvalid", e, err)
			}
		})
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	const base = `"code":"abc","link_id":"7","at":"2026-11-26T19:00:00Z"`
	const link = `"link":{"url":"https://x.example/","disabled":false}`
	tests := []struct {
		name, value string
		want        error
	}{
		{"empty", ``, ErrInvalid},
		{"null", `null`, ErrInvalid},
		{"empty object", `{}`, ErrInvalid},
		{"array", `[1]`, ErrInvalid},
		{"not JSON", `v=1 type=updated`, ErrInvalid},
		{"trailing data", `{"v":1,"type":"updated",` + base + `,` + link + `} {}`, ErrInvalid},
		{"truncated", `{"v":1,"type":"updated",` + base, ErrInvalid},
		{"newer version", `{"v":2,"type":"renamed",` + base + `}`, ErrVersion},
		{"negative version", `{"v":-1,"type":"updated",` + base + `,` + link + `}`, ErrInvalid},
		{"fractional version", `{"v":1.5,"type":"updated",` + base + `,` + link + `}`, ErrInvalid},
		{"version as string", `{"v":"1","type":"updated",` + base + `,` + link + `}`, ErrInvalid},
		{"unknown type", `{"v":1,"type":"expired",` + base + `,` + link + `}`, ErrInvalid},
		{"no type", `{"v":1,` + base + `,` + link + `}`, ErrInvalid},
		{"link ID as number", `{"v":1,"type":"updated","code":"abc","link_id":7,"at":"2026-11-26T19:00:00Z",` + link + `}`, ErrInvalid},
		{"link ID not a number", `{"v":1,"type":"updated","code":"abc","link_id":"x7","at":"2026-11-26T19:00:00Z",` + link + `}`, ErrInvalid},
		{"link ID overflows", `{"v":1,"type":"updated","code":"abc","link_id":"9223372036854775808","at":"2026-11-26T19:00:00Z",` + link + `}`, ErrInvalid},
		{"no link ID on an update", `{"v":1,"type":"updated","code":"abc","at":"2026-11-26T19:00:00Z",` + link + `}`, ErrInvalid},
		{"bad time", `{"v":1,"type":"updated","code":"abc","link_id":"7","at":"yesterday",` + link + `}`, ErrInvalid},
		{"time without zone", `{"v":1,"type":"updated","code":"abc","link_id":"7","at":"2026-11-26T19:00:00",` + link + `}`, ErrInvalid},
		{"no time", `{"v":1,"type":"updated","code":"abc","link_id":"7",` + link + `}`, ErrInvalid},
		{"bad code", `{"v":1,"type":"updated","code":"a b","link_id":"7","at":"2026-11-26T19:00:00Z",` + link + `}`, ErrInvalid},
		{"update without state", `{"v":1,"type":"updated",` + base + `}`, ErrInvalid},
		{"deletion with state", `{"v":1,"type":"deleted",` + base + `,"reason":"api",` + link + `}`, ErrInvalid},
		{"deletion without reason", `{"v":1,"type":"deleted",` + base + `}`, ErrInvalid},
		{"purge on an update", `{"v":1,"type":"updated",` + base + `,"purge_stats":true,` + link + `}`, ErrInvalid},
		{"purge not a boolean", `{"v":1,"type":"deleted",` + base + `,"reason":"api","purge_stats":"yes"}`, ErrInvalid},
		{"bad expiry", `{"v":1,"type":"updated",` + base + `,"link":{"url":"https://x.example/","expires_at":"soon","disabled":false}}`, ErrInvalid},
		{"bad status", `{"v":1,"type":"updated",` + base + `,"link":{"url":"https://x.example/","redirect_status":200,"disabled":false}}`, ErrInvalid},
		{"disabled mismatch", `{"v":1,"type":"disabled",` + base + `,` + link + `}`, ErrInvalid},
		{"oversized", `{"v":1,"pad":"` + strings.Repeat("x", MaxSize) + `"}`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode([]byte(tt.value))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%.80q) = %+v, %v; want %v", tt.value, e, err, tt.want)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	v := `{"v":1,"type":"deleted","code":"abc","link_id":"7","at":"2026-11-26T20:00:00+01:00","reason":"api","actor":"key-12"}`
	e, err := Decode([]byte(v))
	if err != nil {
		t.Fatal(err)
	}
	want := NewDeleted(linkstore.Link{Code: "abc", ID: 7}, ReasonAPI, time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC))
	if !equal(e, want) || e.At.Location() != time.UTC {
		t.Fatalf("got %+v, want %+v", e, want)
	}
}

func TestDecodeRecordChecksKey(t *testing.T) {
	b, err := Encode(NewDeleted(linkstore.Link{Code: "abc", ID: 7}, ReasonAPI, at))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeRecord([]byte("abd"), b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong key: %v, want ErrInvalid", err)
	}
	if _, err := DecodeRecord(nil, b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no key: %v, want ErrInvalid", err)
	}
}
