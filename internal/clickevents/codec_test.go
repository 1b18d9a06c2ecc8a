package clickevents

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// sample is a typical click.
var sample = Event{
	Time:      time.Date(2026, 11, 26, 19, 0, 0, 123_000_000, time.UTC),
	Code:      "a9ZkQ2",
	LinkID:    7_400_000_000_000_000_001,
	Status:    302,
	Visitor:   0x0123456789abcdef,
	Country:   "DE",
	Bot:       false,
	UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	Referrer:  "https://news.example.com/item?id=42",
	Workspace: 7,
	Domain:    "go.example.com",
	Choice:    65, // targets[1]
}

func roundTrip(t *testing.T, e Event) Event {
	t.Helper()
	b, err := e.AppendBinary(nil)
	if err != nil {
		t.Fatalf("encode %+v: %v", e, err)
	}
	var got Event
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	for _, e := range []Event{
		sample,
		{Time: time.UnixMilli(0).UTC(), Code: "a", Status: 100, Workspace: 1},
		{Time: time.UnixMilli(MaxTimeMillis).UTC(), Code: strings.Repeat("Z", 64), LinkID: 1<<63 - 1, Status: 599,
			Visitor: ^uint64(0), Country: "ZZ", Bot: true,
			UserAgent: strings.Repeat("u", MaxUserAgent), Referrer: strings.Repeat("r", MaxReferrer),
			Workspace: 1<<63 - 1, Domain: strings.Repeat(strings.Repeat("d", 63)+".", 3) + strings.Repeat("e", 61), Choice: 255},
		{Time: sample.Time, Code: "x_-1", Status: 308, Country: "AA", UserAgent: "Grüße 🙂", Referrer: "https://例え.jp/",
			Workspace: 2, Domain: "xn--r8jz45g.jp", Choice: 20},
	} {
		if got := roundTrip(t, e); got != e {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
	}
}

// goldenV1 is a version-1 value byte by byte, as the edges wrote it
// before workspaces: a change in how it decodes breaks every upgrade.
const goldenV1 = "01" + // version
	"01" + // flags: bot
	"80d095ffbc31" + // 1_700_000_000_000 ms
	"ac02" + // link ID 300
	"ae02" + // status 302
	"0102030405060708" + // visitor, little-endian
	"5553" + // "US"
	"03616263" + // "abc"
	"066375726c2f38" + // "curl/8"
	"00" // ""

// golden is the event of goldenV1, in the default workspace on the
// instance's host.
var golden = Event{
	Time: time.UnixMilli(1_700_000_000_000).UTC(), Code: "abc", LinkID: 300, Status: 302,
	Visitor: 0x0807060504030201, Country: "US", Bot: true, UserAgent: "curl/8", Referrer: "",
	Workspace: 1, Domain: "",
}

// TestGolden pins the layout byte by byte, as the package documentation
// describes it: a change here breaks every consumer. A version-1 value
// still decodes, as the default workspace's click on the instance's host.
func TestGolden(t *testing.T) {
	v1, _ := hex.DecodeString(goldenV1)
	var old Event
	if err := old.UnmarshalBinary(v1); err != nil || old != golden {
		t.Fatalf("version 1 decodes to %+v, %v; want %+v", old, err, golden)
	}
	if err := old.UnmarshalBinary(append(v1, 0x05, 'h', 'e', 'l', 'l', 'o')); err != nil || old != golden {
		t.Fatalf("version 1 with a later field decodes to %+v, %v; want %+v", old, err, golden)
	}
	e := golden
	e.Workspace, e.Domain, e.Choice = 300, "go.example", 3
	b, err := e.AppendBinary([]byte{0xee}) // appends after what is there
	if err != nil {
		t.Fatal(err)
	}
	want := "ee" + // caller's byte
		"02" + // version
		goldenV1[2:] + // version 1's fields
		"ac02" + // workspace 300
		"0a676f2e6578616d706c65" + // "go.example"
		"03" // choice: rules[2]
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	e.Workspace = 0 // the default
	b, _ = e.AppendBinary(nil)
	if err := old.UnmarshalBinary(b); err != nil || old.Workspace != 1 {
		t.Fatalf("workspace 0 decodes as %d, %v; want the default, 1", old.Workspace, err)
	}
	// A sample for people reading the documentation.
	s, _ := sample.MarshalBinary()
	t.Logf("typical event: %d bytes", len(s))
}

func TestEncodeCleansAndTruncates(t *testing.T) {
	e := sample
	e.UserAgent = strings.Repeat("a", MaxUserAgent-1) + "é" // é is 2 bytes: cut before it
	e.Referrer = "x\x00y\xffz"
	got := roundTrip(t, e)
	if want := strings.Repeat("a", MaxUserAgent-1); got.UserAgent != want {
		t.Errorf("user agent of %d bytes, want %d", len(got.UserAgent), len(want))
	}
	if want := "x\uFFFDy\uFFFDz"; got.Referrer != want {
		t.Errorf("referrer %q, want %q", got.Referrer, want)
	}
	e.Referrer = strings.Repeat("€", 400) // 1200 bytes, 3 per character
	if got := roundTrip(t, e); got.Referrer != strings.Repeat("€", MaxReferrer/3) {
		t.Errorf("referrer of %d bytes, want %d", len(got.Referrer), MaxReferrer/3*3)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Event){
		"empty code":      func(e *Event) { e.Code = "" },
		"bad code":        func(e *Event) { e.Code = "a/b" },
		"long code":       func(e *Event) { e.Code = strings.Repeat("a", 65) },
		"zero time":       func(e *Event) { e.Time = time.Time{} },
		"before 1970":     func(e *Event) { e.Time = time.UnixMilli(-1) },
		"after 9999":      func(e *Event) { e.Time = time.UnixMilli(MaxTimeMillis + 1) },
		"negative ID":     func(e *Event) { e.LinkID = -1 },
		"status 0":        func(e *Event) { e.Status = 0 },
		"status 600":      func(e *Event) { e.Status = 600 },
		"lower country":   func(e *Event) { e.Country = "de" },
		"long country":    func(e *Event) { e.Country = "DEU" },
		"digit country":   func(e *Event) { e.Country = "T1" },
		"unicode country": func(e *Event) { e.Country = "É" },
		"workspace -1":    func(e *Event) { e.Workspace = -1 },
		"upper domain":    func(e *Event) { e.Domain = "Go.example.com" },
		"domain port":     func(e *Event) { e.Domain = "go.example.com:443" },
		"trailing dot":    func(e *Event) { e.Domain = "go.example.com." },
		"unicode domain":  func(e *Event) { e.Domain = "例え.jp" },
		"long domain":     func(e *Event) { e.Domain = strings.Repeat("a.", 127) },
	} {
		e := sample
		mod(&e)
		b, err := e.AppendBinary([]byte("x"))
		if !errors.Is(err, ErrInvalid) || string(b) != "x" {
			t.Errorf("%s: got %q, %v; want b unchanged and ErrInvalid", name, b, err)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := sample.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	// Offsets in good: 0 version, 1 flags, 2-7 time, 8-16 link ID,
	// 17-18 status, 19-26 visitor, 27-28 country, 29 code length.
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"empty":           {nil, ErrMalformed},
		"version 0":       {edit(func(b []byte) []byte { b[0] = 0; return b }), ErrVersion},
		"version 3":       {edit(func(b []byte) []byte { b[0] = 3; return b }), ErrVersion},
		"only version":    {[]byte{1}, ErrMalformed},
		"too long":        {append(bytes.Clone(good), make([]byte, MaxSize)...), ErrMalformed},
		"status 99":       {edit(func(b []byte) []byte { b[17], b[18] = 99, 0x80; return append(b[:18], b[19:]...) }), ErrMalformed},
		"lower country":   {edit(func(b []byte) []byte { b[27] = 'd'; return b }), ErrMalformed},
		"half country":    {edit(func(b []byte) []byte { b[27] = 0; return b }), ErrMalformed},
		"bad code":        {edit(func(b []byte) []byte { b[30] = '/'; return b }), ErrMalformed},
		"empty code":      {edit(func(b []byte) []byte { b[29] = 0; return append(b[:30], b[36:]...) }), ErrMalformed},
		"long UA length":  {edit(func(b []byte) []byte { return append(b[:36], 0x81, 0x04) }), ErrMalformed},
		"NUL in UA":       {edit(func(b []byte) []byte { b[40] = 0; return b }), ErrMalformed},
		"bad UTF-8 ref":   {edit(func(b []byte) []byte { b[len(b)-len(sample.Domain)-4] = 0xff; return b }), ErrMalformed},
		"workspace 0":     {edit(func(b []byte) []byte { b[len(b)-len(sample.Domain)-3] = 0; return b }), ErrMalformed},
		"upper domain":    {edit(func(b []byte) []byte { b[len(b)-2] = 'M'; return b }), ErrMalformed},
		"long domain len": {edit(func(b []byte) []byte { return append(b[:len(b)-len(sample.Domain)-2], 0xfe, 0x01) }), ErrMalformed},
		"overlong varint": {[]byte{1, 0, 0x80, 0x00}, ErrMalformed},
		"varint 11":       {append([]byte{1, 0}, bytes.Repeat([]byte{0xff}, 11)...), ErrMalformed},
		"time too late":   {[]byte{1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrMalformed},
	} {
		var e Event
		err := e.UnmarshalBinary(c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if e != (Event{}) {
			t.Errorf("%s: event changed on error: %+v", name, e)
		}
	}
	// Without its last byte, the choice, the value is an older edge's.
	for n := range len(good) - 1 {
		var e Event
		if err := e.UnmarshalBinary(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("truncated to %d bytes: got %v, want ErrMalformed", n, err)
		}
	}
}

// TestEvolution: a reader ignores reserved flags and fields
// appended after the referrer.
func TestEvolution(t *testing.T) {
	b, err := sample.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b[1] |= 0xfe
	b = append(b, 0x05, 'h', 'e', 'l', 'l', 'o')
	var got Event
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got != sample {
		t.Fatalf("got %+v, want %+v", got, sample)
	}
}

// TestChoice: the choice is the last field of version 2, a byte; a
// version-2 value that ends before it (an edge from before smart links)
// decodes as the link's url (0), and so does version 1.
func TestChoice(t *testing.T) {
	for _, c := range []uint8{0, 1, 20, 64, 73, 255} {
		e := sample
		e.Choice = c
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if b[len(b)-1] != c {
			t.Errorf("choice %d: last byte %#x", c, b[len(b)-1])
		}
		var got Event
		if err := got.UnmarshalBinary(b); err != nil || got != e {
			t.Errorf("choice %d: decoded %+v, %v", c, got, err)
		}
		// An edge from before smart links wrote no choice.
		if err := got.UnmarshalBinary(b[:len(b)-1]); err != nil || got.Choice != 0 {
			t.Errorf("choice %d: without the byte decoded %+v, %v; want choice 0", c, got, err)
		}
		want := e
		want.Choice = 0
		if got != want {
			t.Errorf("choice %d: without the byte decoded %+v, want %+v", c, got, want)
		}
	}
	v1, _ := hex.DecodeString(goldenV1)
	var old Event
	if err := old.UnmarshalBinary(append(v1, 0x07)); err != nil || old.Choice != 0 {
		t.Fatalf("version 1 with a byte after it decodes to %+v, %v; want choice 0", old, err)
	}
}

// TestDecodeCopies: the decoded strings do not alias the caller's buffer.
func TestDecodeCopies(t *testing.T) {
	b, _ := sample.MarshalBinary()
	var e Event
	if err := e.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	clear(b)
	if e != sample {
		t.Fatalf("after reusing the buffer: %+v", e)
	}
}

func TestNormalizeCountry(t *testing.T) {
	for in, want := range map[string]string{
		"DE": "DE", "de": "DE", "dE": "DE", "": "", "XX": "", "xx": "", "T1": "",
		"D": "", "DEU": "", "D-": "", "[A": "", "é": "",
	} {
		if got := NormalizeCountry(in); got != want {
			t.Errorf("NormalizeCountry(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	b, _ := sample.MarshalBinary()
	var e Event
	if n := testing.AllocsPerRun(100, func() { _ = e.UnmarshalBinary(b) }); n > 2 {
		t.Errorf("decode: %v allocations, want at most 2", n)
	}
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { _, _ = sample.AppendBinary(buf[:0]) }); n > 0 {
		t.Errorf("encode: %v allocations, want 0", n)
	}
}

func TestValidDomain(t *testing.T) {
	for d, want := range map[string]bool{
		"": true, "go.example.com": true, "a": true, "xn--r8jz45g.jp": true, "a-b.c9": true,
		strings.Repeat("a", 63) + ".com": true, strings.Repeat("a.", 126) + "a": true,
		strings.Repeat("a", 64) + ".com": false, strings.Repeat("a.", 126) + "ab": false,
		"Go.example.com": false, "go.example.com.": false, ".go.example.com": false, "go..example": false,
		"go.example.com:443": false, "-go.example": false, "go-.example": false, "go.example-": false,
		"例え.jp": false, "go_example.com": false, "go example": false,
	} {
		if got := ValidDomain(d); got != want {
			t.Errorf("ValidDomain(%q) = %v, want %v", d, got, want)
		}
	}
}
