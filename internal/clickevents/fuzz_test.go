package clickevents

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzUnmarshalBinary: decoding never panics and fails only with
// ErrVersion or ErrMalformed; what it accepts encodes again to the same
// bytes, up to the reserved flags and trailing bytes a reader ignores (a
// version-1 value as version 2 with the default workspace and domain ""),
// and decodes to the same event (a version-2 value without the choice as
// one with choice 0). The corpus is in
// testdata/fuzz/FuzzUnmarshalBinary.
func FuzzUnmarshalBinary(f *testing.F) {
	for _, e := range []Event{sample, {Time: time.UnixMilli(0), Code: "a", Status: 301, Bot: true}} {
		b, err := e.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	v1, _ := hex.DecodeString(goldenV1)
	f.Add(v1)
	if b, err := sample.MarshalBinary(); err == nil {
		f.Add(b[:len(b)-1]) // an edge from before the choice
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := e.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrVersion", err)
			}
			return
		}
		b, err := e.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %x to %+v, which does not encode: %v", data, e, err)
		}
		var again Event
		if err := again.UnmarshalBinary(b); err != nil || again != e {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", e, again, err)
		}
		if data[0] == VersionWithoutWorkspace {
			// The same fields, then the default workspace, domain ""
			// and choice 0.
			if !bytes.HasSuffix(b, []byte{1, 0, 0}) || e.Workspace != 1 || e.Domain != "" || e.Choice != 0 {
				t.Fatalf("version 1 %x decoded to %+v, which encodes to %x", data, e, b)
			}
			b = b[:len(b)-3]
		} else if len(b) == len(data)+1 {
			// A version-2 value of an edge from before the choice:
			// the encoder adds choice 0.
			if b[len(b)-1] != 0 || e.Choice != 0 {
				t.Fatalf("%x without a choice decoded to %+v, which encodes to %x", data, e, b)
			}
			b = b[:len(b)-1]
		}
		if len(b) > len(data) || !bytes.Equal(b[2:], data[2:len(b)]) || b[1] != data[1]&flagBot {
			t.Fatalf("decoded %x to %+v, which encodes to %x", data, e, b)
		}
	})
}

// FuzzAppendBinary: any event either encodes or fails with ErrInvalid;
// what encodes decodes to the event with its strings cleaned and cut, and
// the value stays within MaxSize.
func FuzzAppendBinary(f *testing.F) {
	f.Add(int64(1_700_000_000_000), "a9ZkQ2", int64(7), uint16(302), uint64(9), "DE", false, sample.UserAgent, sample.Referrer, int64(2), "go.example.com", uint8(65))
	f.Add(int64(-1), "a/b", int64(-1), uint16(0), uint64(0), "de", true, "\xff\x00", "é", int64(-1), "Go.Example.", uint8(0))
	f.Fuzz(func(t *testing.T, ms int64, code string, id int64, status uint16, visitor uint64, country string, bot bool, ua, ref string, ws int64, domain string, choice uint8) {
		e := Event{Time: time.UnixMilli(ms), Code: code, LinkID: id, Status: status, Visitor: visitor,
			Country: country, Bot: bot, UserAgent: ua, Referrer: ref, Workspace: ws, Domain: domain, Choice: choice}
		b, err := e.AppendBinary(nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(b) > MaxSize {
			t.Fatalf("%d bytes", len(b))
		}
		var got Event
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v encodes to %x, which does not decode: %v", e, b, err)
		}
		if !got.Time.Equal(e.Time) || got.Code != e.Code || got.LinkID != e.LinkID || got.Status != e.Status ||
			got.Visitor != e.Visitor || got.Country != e.Country || got.Bot != e.Bot ||
			got.Workspace != max(e.Workspace, 1) || got.Domain != e.Domain || got.Choice != e.Choice {
			t.Fatalf("%+v came back as %+v", e, got)
		}
		if len(got.UserAgent) > MaxUserAgent || len(got.Referrer) > MaxReferrer {
			t.Fatalf("strings not cut: %d, %d bytes", len(got.UserAgent), len(got.Referrer))
		}
		if clean(ua) && len(ua) <= MaxUserAgent && got.UserAgent != ua {
			t.Fatalf("user agent %q came back as %q", ua, got.UserAgent)
		}
	})
}

// isBotReference is IsBot written the plain way: lower-case the first
// MaxUserAgent bytes (ASCII only), then look for every token everywhere.
func isBotReference(ua string) bool {
	if ua == "" {
		return true
	}
	b := []byte(ua[:min(len(ua), MaxUserAgent)])
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	s := string(b)
	for _, t := range botTokens {
		for off := 0; ; {
			i := strings.Index(s[off:], string(t))
			if i < 0 {
				break
			}
			i += off
			if after := notBotAfter[string(t)]; after == "" || !strings.HasSuffix(s[:i], after) {
				return true
			}
			off = i + 1
		}
	}
	return false
}

// FuzzIsBot: the one-pass IsBot agrees with the plain reference on any
// input. The corpus is in testdata/fuzz/FuzzIsBot.
func FuzzIsBot(f *testing.F) {
	for _, s := range []string{"", sample.UserAgent, "Googlebot/2.1", "CUBOT_X30 Chrome", "cuBOT googleBOT", "xcurl/1", "BO"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		if got, want := IsBot(ua), isBotReference(ua); got != want {
			t.Fatalf("IsBot(%q) = %v, the reference says %v", ua, got, want)
		}
	})
}
