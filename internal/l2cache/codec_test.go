package l2cache

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, l := range []linkstore.Link{
		{ID: 1, URL: "https://example.com/"},
		{ID: 1 << 62, URL: "https://example.com/a?b=c#d", Status: 301},
		{ID: 42, URL: "https://example.com/ü", Status: 308, ExpiresAt: exp, Disabled: true},
		{ID: 7, URL: "http://x", Status: 307, ExpiresAt: time.Unix(0, 0).UTC()},
		{ID: 0, URL: strings.Repeat("a", maxURLLen), Status: 302},
		{ID: 9, URL: "https://example.com/t", Status: 301, ExpiresAt: exp,
			TakedownAt: time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC), TakedownReason: `Phishing <b>"bank"</b> — case 118`},
		{ID: 10, URL: "https://example.com/t", Disabled: true,
			TakedownAt: time.Unix(1, 0).UTC(), TakedownReason: strings.Repeat("é", linkstore.MaxTakedownReason)},
	} {
		b := mustEncode(t, l)
		d, err := decode(b)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", l, err)
		}
		if d.tombstone || !sameLink(d.link, l) {
			t.Fatalf("round trip: got %+v, want %+v", d.link, l)
		}
	}
}

// TestDecodeV1Golden: values that edges wrote before takedowns existed
// read as they did; and links not taken down are still written in that
// form, which those edges read.
func TestDecodeV1Golden(t *testing.T) {
	t.Parallel()
	want := linkstore.Link{ID: 5, URL: "https://e.x/", Status: 302}
	golden := []byte{tagLinkV1, 0, 0xae, 0x02, 5, 12, 'h', 't', 't', 'p', 's', ':', '/', '/', 'e', '.', 'x', '/'}
	d, err := decode(golden)
	if err != nil || !sameLink(d.link, want) || d.link.TakenDown() {
		t.Fatalf("decode(v1 golden) = %+v, %v; want %+v", d.link, err, want)
	}
	if got := mustEncode(t, want); !bytes.Equal(got, golden) {
		t.Fatalf("encode = %x, want the v1 form %x", got, golden)
	}
}

func TestCodecCompact(t *testing.T) {
	t.Parallel()
	// A typical link: 1 tag, 1 flags, 1-2 status, 9 id (a Snowflake ID
	// needs 9 varint bytes), 1 URL length, then the URL.
	l := linkstore.Link{ID: 1 << 60, URL: "https://example.com/some/page", Status: 0}
	if got, max := len(mustEncode(t, l)), 13+len(l.URL); got > max {
		t.Fatalf("encoded size %d, want at most %d", got, max)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := mustEncode(t, linkstore.Link{ID: 5, URL: "https://example.com/", Status: 302})
	takenDown := mustEncode(t, linkstore.Link{ID: 5, URL: "https://example.com/", TakedownAt: time.Unix(9, 0), TakedownReason: "spam"})
	for name, b := range map[string][]byte{
		"empty":              {},
		"unknown tag":        {0x05},
		"takedown truncated": takenDown[:len(takenDown)-1],
		"takedown no reason": {tagTakenDownV1, 0, 0, 1, 2, 0, 1, 'x'},
		"takedown no time":   {tagTakenDownV1, 0, 0, 1, 0, 1, 'r', 1, 'x'},
		"takedown control":   {tagTakenDownV1, 0, 0, 1, 2, 2, 'a', '\n', 1, 'x'},
		"takedown too long":  {tagTakenDownV1, 0, 0, 1, 2, 0xff, 0xff, 0x03, 'a'},
		"tag zero":           {0x00},
		"JSON":               []byte(`{"url":"https://example.com"}`),
		"tombstone trailing": {tagTombstoneV1, 0},
		"truncated flags":    {tagLinkV1},
		"truncated":          valid[:len(valid)-1],
		"trailing":           append(bytes.Clone(valid), 'x'),
		"unknown flags":      {tagLinkV1, 0x80, 0, 1, 1, 'x'},
		"bad status":         {tagLinkV1, 0, 200, 1, 1, 1, 'x'},
		"empty URL":          {tagLinkV1, 0, 0, 1, 0},
		"overlong varint":    {tagLinkV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"id out of range":    {tagLinkV1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 'x'},
		"huge URL length":    {tagLinkV1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'},
		"control char":       {tagLinkV1, 0, 0, 1, 3, 'a', '\n', 'b'},
		"missing expiry":     {tagLinkV1, flagExpires},
	} {
		if _, err := decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode(%x) = %v, want ErrCorrupt", name, b, err)
		}
	}
}

// FuzzDecode checks that decode never panics on arbitrary bytes, and that
// whatever it accepts encodes back to a value that decodes to the same link.
// Its seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(mustEncode(f, linkstore.Link{ID: 1, URL: "https://example.com/", Status: 301}))
	f.Add(mustEncode(f, linkstore.Link{ID: 2, URL: "https://e.x/", ExpiresAt: time.Unix(1e9, 0), Disabled: true}))
	f.Add([]byte{tagTombstoneV1})
	f.Add(mustEncode(f, linkstore.Link{ID: 3, URL: "https://e.x/", TakedownAt: time.Unix(2e9, 0), TakedownReason: "court order"}))
	f.Add(mustEncode(f, linkstore.Link{ID: 4, URL: "https://e.x/", Smart: smartlink.Options{MaxClicks: 9, ExpiredURL: "https://e.x/gone"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if d.tombstone {
			return
		}
		again, err := decode(mustEncode(t, d.link))
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !sameLink(again.link, d.link) {
			t.Fatalf("round trip: %+v != %+v", again.link, d.link)
		}
	})
}

func sameLink(a, b linkstore.Link) bool {
	return a.ID == b.ID && a.Code == b.Code && a.URL == b.URL && a.Status == b.Status &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.Disabled == b.Disabled &&
		a.TakedownAt.Equal(b.TakedownAt) && a.TakedownReason == b.TakedownReason &&
		reflect.DeepEqual(a.Smart, b.Smart)
}

// mustEncode returns encodeLink(nil, l), failing the test on an error.
func mustEncode(tb testing.TB, l linkstore.Link) []byte {
	tb.Helper()
	b, err := encodeLink(nil, l)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestCodecWorkspace: a link outside the default workspace carries its
// workspace; a link of the default workspace (or of none, 0) is written
// without it, in the form edges before workspaces read, and every value
// without it reads as the default workspace.
func TestCodecWorkspace(t *testing.T) {
	t.Parallel()
	plain := mustEncode(t, linkstore.Link{ID: 5, URL: "https://e.x/", Status: 302})
	for _, c := range []struct {
		name      string
		ws, want  int64
		sameBytes bool // encoded exactly as a link without a workspace
	}{
		{"none", 0, 1, true},
		{"default", 1, 1, true},
		{"acme", 2, 2, false},
		{"large", 1 << 40, 1 << 40, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := linkstore.Link{ID: 5, URL: "https://e.x/", Status: 302, WorkspaceID: c.ws}
			b := mustEncode(t, l)
			if bytes.Equal(b, plain) != c.sameBytes {
				t.Fatalf("encode = %x; the form without a workspace is %x", b, plain)
			}
			d, err := decode(b)
			if err != nil || d.link.WorkspaceID != c.want || !sameLink(d.link, l) {
				t.Fatalf("decode = %+v, %v; want workspace %d", d.link, err, c.want)
			}
			// A taken-down link carries it too.
			l.TakedownAt, l.TakedownReason = time.Unix(9, 0).UTC(), "spam"
			if d, err := decode(mustEncode(t, l)); err != nil || d.link.WorkspaceID != c.want {
				t.Fatalf("taken down: decode = %+v, %v; want workspace %d", d.link, err, c.want)
			}
		})
	}
	// Workspace 0 written explicitly is not a value this package writes.
	if _, err := decode([]byte{tagLinkV1, flagWorkspace, 0, 5, 0, 1, 'x'}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("workspace 0: %v, want ErrCorrupt", err)
	}
}
