package linkevents

import (
	"github.com/shortify/shortify/internal/linkstore"
	"testing"
)

// FuzzDecode: Decode never panics; what it accepts encodes again, and the
// encoding decodes to the same event (so a consumer and the producer agree
// on every event the consumer accepts). The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, e := range []Event{
		NewUpdated(link, at),
		NewCreated(link, at),
		NewDeleted(linkstore.Link{Code: "abc", ID: 7}, ReasonExpired, at),
		NewDeleted(linkstore.Link{Code: "abc", ID: 0}, ReasonAPI, at),
	} {
		b, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := Decode(value)
		if err != nil {
			return
		}
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("Decode accepted %q as %+v, which Encode refuses: %v", value, e, err)
		}
		again, err := DecodeRecord(e.Key(), b)
		if err != nil {
			t.Fatalf("Encode wrote %q, which Decode refuses: %v", b, err)
		}
		if !equal(e, again) {
			t.Fatalf("round trip of %q: %+v became %+v", value, e, again)
		}
	})
}
