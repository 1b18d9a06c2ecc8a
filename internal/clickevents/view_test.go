package clickevents

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// checkViewAgrees fails when UnmarshalView and UnmarshalBinary disagree
// about data: both must refuse it with the same error, or both accept it
// as the same event.
func checkViewAgrees(t *testing.T, data []byte) {
	t.Helper()
	var want, got Event
	werr := want.UnmarshalBinary(data)
	gerr := got.UnmarshalView(data)
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("%x: UnmarshalBinary: %v, UnmarshalView: %v", data, werr, gerr)
	case werr != nil && werr.Error() != gerr.Error():
		t.Fatalf("%x: UnmarshalBinary: %v, UnmarshalView: %v", data, werr, gerr)
	case werr == nil && got != want:
		t.Fatalf("%x: UnmarshalBinary: %+v, UnmarshalView: %+v", data, want, got)
	}
}

// TestUnmarshalViewAgrees: on events, on every truncation of them and on
// every single-byte change of them, UnmarshalView decodes as
// UnmarshalBinary does.
func TestUnmarshalViewAgrees(t *testing.T) {
	for _, e := range []Event{sample, {Time: time.UnixMilli(0), Code: "a", Status: 301, Bot: true}} {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		checkViewAgrees(t, b)
		for n := range len(b) {
			checkViewAgrees(t, b[:n])
		}
		for i := range b {
			for _, v := range []byte{0, 1, 0x7f, 0x80, 0xff, 'A', b[i] + 1} {
				c := append([]byte(nil), b...)
				c[i] = v
				checkViewAgrees(t, c)
			}
		}
	}
}

// FuzzUnmarshalView: UnmarshalView decodes any input as UnmarshalBinary
// does.
func FuzzUnmarshalView(f *testing.F) {
	b, err := sample.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(checkViewAgrees)
}

// TestUnmarshalViewViews: the strings are views into the value (no
// allocation), so they change with it.
func TestUnmarshalViewViews(t *testing.T) {
	b, err := sample.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if allocs := testing.AllocsPerRun(100, func() {
		if err := e.UnmarshalView(b); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("UnmarshalView: %v allocations per event", allocs)
	}
	if e.UserAgent == "" {
		t.Fatal("sample has no user agent")
	}
	ua := strings.Clone(e.UserAgent)
	b[bytes.Index(b, []byte(ua))]++ // the user agent's first byte
	if e.UserAgent == ua {
		t.Error("the user agent is a copy, not a view")
	}
}

// BenchmarkUnmarshalView is BenchmarkUnmarshalBinary's decode without
// copies.
func BenchmarkUnmarshalView(b *testing.B) {
	data, err := sample.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	var e Event
	b.ReportAllocs()
	for b.Loop() {
		if err := e.UnmarshalView(data); err != nil {
			b.Fatal(err)
		}
	}
}
