package titlefetch

import (
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/safedial"
)

// BenchmarkFetch: one fetch and parse of a page on loopback (the title
// first, then 2 MiB never read), the work a worker does per link apart
// from the write.
func BenchmarkFetch(b *testing.B) {
	srv := newPagesTB(b)
	f := &Fetcher{cfg: Config{Client: safedial.Client(safedial.Options{AllowPrivate: true}),
		MaxBytes: DefaultMaxBytes, Timeout: DefaultTimeout, MaxTitle: 500}}
	for b.Loop() {
		if title, _, err := f.fetch(b.Context(), srv.URL+"/bigearly"); err != nil || title != "Early" {
			b.Fatalf("fetch = %q, %v", title, err)
		}
	}
}

// BenchmarkParse: the parser alone on a 100 KiB page whose title comes
// after a large head.
func BenchmarkParse(b *testing.B) {
	page := "<html><head>" + strings.Repeat(`<meta name="x" content="y">`, 4000) + "<title>Late &amp; found</title>"
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(page), 500); err != nil {
			b.Fatal(err)
		}
	}
}
