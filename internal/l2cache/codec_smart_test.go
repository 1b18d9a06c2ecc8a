package l2cache

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/smartlink"
)

// TestCodecSmart: a smart link round-trips with its options under
// tagSmartV1, whatever else it carries; a plain link is written exactly as
// before smart links, so older edges keep reading it.
func TestCodecSmart(t *testing.T) {
	t.Parallel()
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	full := storetest.SmartOptions()
	small := smartlink.Options{MaxClicks: 3}
	for _, c := range []struct {
		name string
		l    linkstore.Link
	}{
		{"click limit", linkstore.Link{ID: 1, URL: "https://example.com/", Smart: small}},
		{"every option", linkstore.Link{ID: 1 << 62, URL: "https://example.com/ü", Status: 308, Smart: full}},
		{"expiring, disabled, workspace", linkstore.Link{ID: 3, URL: "http://x", Status: 301, ExpiresAt: exp,
			Disabled: true, WorkspaceID: 7, Smart: small}},
		{"taken down", linkstore.Link{ID: 4, URL: "https://example.com/t", Smart: full,
			TakedownAt: time.Unix(1, 0).UTC(), TakedownReason: "phishing"}},
		{"cacheable", linkstore.Link{ID: 5, URL: "https://example.com/c",
			Smart: smartlink.Options{CacheMaxAge: 60, ForwardQuery: true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := mustEncode(t, c.l)
			if b[0] != tagSmartV1 {
				t.Fatalf("tag 0x%02x, want 0x%02x", b[0], tagSmartV1)
			}
			d, err := decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if d.tombstone || !sameLink(d.link, c.l) {
				t.Fatalf("round trip: got %+v, want %+v", d.link, c.l)
			}
			plain := c.l
			plain.Smart = smartlink.Options{}
			want := tagLinkV1
			if plain.TakenDown() {
				want = tagTakenDownV1
			}
			pb := mustEncode(t, plain)
			if pb[0] != want {
				t.Fatalf("without options: tag 0x%02x, want 0x%02x", pb[0], want)
			}
			// The smart form is the plain one (tag and takedown flag
			// aside) with the options after the URL.
			if plain.TakenDown() {
				return
			}
			if !bytes.Equal(b[2:len(pb)], pb[2:]) || b[1] != pb[1] {
				t.Fatalf("smart form %x does not extend the plain one %x", b, pb)
			}
		})
	}
}

// TestDecodeSmartRejects: damaged smart values are corrupt (a miss), not
// links without their options.
func TestDecodeSmartRejects(t *testing.T) {
	t.Parallel()
	valid := mustEncode(t, linkstore.Link{ID: 5, URL: "https://example.com/", Smart: smartlink.Options{MaxClicks: 2}})
	// smart builds a tagSmartV1 value of the URL "x" and the given JSON.
	smart := func(flags byte, json string) []byte {
		b := []byte{tagSmartV1, flags, 0, 5, 1, 'x', byte(len(json))}
		return append(b, json...)
	}
	for name, b := range map[string][]byte{
		"truncated":             valid[:len(valid)-1],
		"trailing":              append(bytes.Clone(valid), '}'),
		"no options":            {tagSmartV1, 0, 0, 5, 1, 'x'},
		"empty options":         smart(0, ""),
		"zero options":          smart(0, "{}"),
		"options not JSON":      smart(0, "max_clicks"),
		"invalid options":       smart(0, `{"max_clicks":-1}`),
		"unknown option value":  smart(0, `{"max_clicks":"3"}`),
		"URL longer than value": {tagSmartV1, 0, 0, 5, 9, 'x'},
		"options too long":      {tagSmartV1, 0, 0, 5, 1, 'x', 0xff, 0xff, 0xff, 0x0f, '{'},
		"takedown flag no data": smart(flagTakenDown, `{"max_clicks":2}`),
		"takedown flag on v1":   {tagLinkV1, flagTakenDown, 0, 5, 1, 'x'},
		"unknown flags":         smart(0x80, `{"max_clicks":2}`),
	} {
		if _, err := decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode(%x) = %v, want ErrCorrupt", name, b, err)
		}
	}
}

// TestCacheSmartRoundTrip: a smart link written to Redis (by Set and by
// Fill) reads back with its options.
func TestCacheSmartRoundTrip(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, time.Hour)
	for _, write := range []string{"Set", "Fill"} {
		l := linkstore.Link{Code: "smart" + write, ID: 77, URL: "https://example.com/s", Smart: storetest.SmartOptions()}
		var err error
		if write == "Set" {
			err = c.Set(t.Context(), l)
		} else {
			_, err = c.Fill(t.Context(), l)
		}
		if err != nil {
			t.Fatalf("%s: %v", write, err)
		}
		got, ok, err := c.Get(t.Context(), "", l.Code)
		if err != nil || !ok {
			t.Fatalf("Get after %s: %v, %v", write, ok, err)
		}
		l.WorkspaceID = 1 // the default, as every value without one reads
		if !sameLink(got, l) {
			t.Fatalf("Get after %s: %+v, want %+v", write, got, l)
		}
	}
}
