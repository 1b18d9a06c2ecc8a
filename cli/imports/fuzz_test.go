package imports_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/shortify/shortify/cli/imports"
)

// fuzzFormat feeds format f's reader arbitrary bytes: it must not panic,
// must end, and every record it yields must be importable as far as the
// reader checks (an http(s) URL, a line, a source key of the format, an
// external ID the API takes). Seeds: the format's sample files and
// testdata/fuzz/<FuzzName>.
func fuzzFormat(f *testing.F, format imports.Format, samples ...string) {
	for _, s := range samples {
		data, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := imports.Open(format, bytes.NewReader(data), imports.Options{SourceDomain: "old.example"})
		if err != nil {
			return
		}
		recs, _, _ := readAll(t, r)
		if len(recs) > 2*len(data)+1 {
			t.Fatalf("%d records from %d bytes", len(recs), len(data))
		}
		for _, rec := range recs {
			if rec.Line < 1 {
				t.Errorf("record without a line: %+v", rec)
			}
			if u := strings.ToLower(rec.URL); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Errorf("record with a bad URL: %+v", rec)
			}
			if !strings.HasPrefix(rec.SourceKey, string(format)+":") {
				t.Errorf("source key %q is not of %s", rec.SourceKey, format)
			}
			id := imports.ExternalID(rec)
			if n := utf8.RuneCountInString(id); n == 0 || n > imports.MaxExternalID || !utf8.ValidString(id) ||
				strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Errorf("external ID %q is not one the API takes", id)
			}
		}
	})
}

func FuzzPlainCSV(f *testing.F) { fuzzFormat(f, imports.CSV, "plain.csv") }

func FuzzBitly(f *testing.F) { fuzzFormat(f, imports.Bitly, "bitly.json", "bitly.csv") }

func FuzzYOURLS(f *testing.F) {
	fuzzFormat(f, imports.YOURLS, "yourls.sql", "yourls.csv", "yourls-noheader.csv")
}

func FuzzKutt(f *testing.F) { fuzzFormat(f, imports.Kutt, "kutt.json", "kutt.csv") }

func FuzzShlink(f *testing.F) { fuzzFormat(f, imports.Shlink, "shlink.json", "shlink.csv") }
