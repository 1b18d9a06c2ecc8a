package imports_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/cli/imports"
)

// readAll reads every record of r, collecting the bad lines.
func readAll(t testing.TB, r imports.Reader) ([]imports.Record, []string, error) {
	t.Helper()
	var recs []imports.Record
	var bad []string
	for range 1_000_000 {
		rec, err := r.Next()
		var le *imports.LineError
		switch {
		case errors.Is(err, io.EOF):
			return recs, bad, nil
		case errors.As(err, &le):
			bad = append(bad, le.Error())
			continue
		case err != nil:
			return recs, bad, err
		}
		recs = append(recs, rec)
	}
	t.Fatal("the reader does not end")
	return nil, nil, nil
}

func openFile(t *testing.T, f imports.Format, name string, opts imports.Options) imports.Reader {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	r, err := imports.Open(f, fh, opts)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return r
}

// show is a record in one line, for comparisons.
func show(r imports.Record) string {
	s := fmt.Sprintf("%d %s -> %s alias=%s", r.Line, r.SourceKey, r.URL, r.Alias)
	if r.Title != "" {
		s += " title=" + r.Title
	}
	if len(r.Tags) > 0 {
		s += " tags=" + strings.Join(r.Tags, "|")
	}
	if r.Domain != "" {
		s += " domain=" + r.Domain
	}
	if !r.ExpiresAt.IsZero() {
		s += " expires=" + r.ExpiresAt.Format(time.RFC3339)
	}
	return s
}

func TestSamples(t *testing.T) {
	for _, tc := range []struct {
		format imports.Format
		file   string
		opts   imports.Options
		want   []string
		bad    []string
	}{{
		format: imports.CSV, file: "plain.csv",
		want: []string{
			"2 csv:/docs -> https://example.com/docs alias=docs title=Documentation tags=docs|help",
			"3 csv:/launch-2026 -> https://example.com/launch alias=launch-2026 title=Launch, the big one tags=marketing|launch expires=2030-01-01T00:00:00Z",
			"4 csv:https://example.com/no-alias -> https://example.com/no-alias alias= title=No alias here",
			"5 csv:go.acme.example/promo -> https://example.com/on-domain alias=promo domain=go.acme.example",
		},
		bad: []string{
			`line 6: the URL "not a url" is not an http(s) URL`,
			`line 7: expires_at: "tomorrow" is not a timestamp (use RFC 3339, for example 2026-01-31T12:00:00Z)`,
		},
	}, {
		format: imports.Bitly, file: "bitly.json",
		want: []string{
			"3 bitly:bit.ly/3kQx7aB -> https://www.example.com/watch?v=1 alias=3kQx7aB title=A video tags=video|2020 domain=bit.ly",
			"3 bitly:bit.ly/my-custom-url -> https://www.example.com/watch?v=1 alias=my-custom-url title=A video tags=video|2020 domain=bit.ly",
			"19 bitly:acme.co/spring -> https://acme.example/spring-sale alias=spring title=Spring sale domain=acme.co",
		},
		bad: []string{"line 29: the URL is empty"},
	}, {
		format: imports.Bitly, file: "bitly.csv",
		want: []string{
			"2 bitly:bit.ly/3kQx7aB -> https://www.example.com/watch?v=1 alias=3kQx7aB title=A video tags=video|2020 domain=bit.ly",
			"2 bitly:bit.ly/my-custom-url -> https://www.example.com/watch?v=1 alias=my-custom-url title=A video tags=video|2020 domain=bit.ly",
			"3 bitly:acme.co/spring -> https://acme.example/spring-sale alias=spring title=Spring sale domain=acme.co",
		},
		bad: []string{"line 4: the URL is empty"},
	}, {
		format: imports.YOURLS, file: "yourls.sql", opts: imports.Options{SourceDomain: "sho.rt"},
		want: []string{
			"29 yourls:sho.rt/ozh -> https://ozh.org/ alias=ozh title=ozh.org domain=sho.rt",
			"29 yourls:sho.rt/yourls -> https://yourls.org/ alias=yourls title=YOURLS: Your Own URL Shortener domain=sho.rt",
			`29 yourls:sho.rt/blog -> https://blog.yourls.org/ alias=blog title=YOURLS' Blog; "news"\notes domain=sho.rt`,
			"30 yourls:sho.rt/wiki -> https://en.wikipedia.org/wiki/O%27Hare alias=wiki domain=sho.rt",
			"40 yourls:sho.rt/gh -> https://github.com/ alias=gh title=GitHub domain=sho.rt",
			"41 yourls:sho.rt/hex -> https://hex.example/ alias=hex title=Hex 'n' introducer domain=sho.rt",
		},
		bad: []string{`line 30: the URL "ftp://old.example/file" is not an http(s) URL`},
	}, {
		format: imports.YOURLS, file: "yourls.csv",
		want: []string{
			"2 yourls:/ozh -> https://ozh.org/ alias=ozh title=ozh.org",
			"3 yourls:/yourls -> https://yourls.org/ alias=yourls title=YOURLS: Your Own URL Shortener",
		},
		bad: []string{"line 4: the keyword is empty"},
	}, {
		format: imports.YOURLS, file: "yourls-noheader.csv",
		want: []string{
			"1 yourls:/ozh -> https://ozh.org/ alias=ozh title=ozh.org",
			"2 yourls:/yourls -> https://yourls.org/ alias=yourls title=YOURLS: Your Own URL Shortener",
		},
	}, {
		format: imports.Kutt, file: "kutt.json",
		want: []string{
			"6 kutt:kutt.it/kutt-docs -> https://docs.kutt.example/ alias=kutt-docs title=Kutt's docs domain=kutt.it",
			"20 kutt:go.shop.example/sale -> https://shop.example/sale alias=sale domain=go.shop.example expires=2031-06-01T10:00:00Z",
		},
		bad: []string{`line 34: the field "target" holds a JSON number`},
	}, {
		format: imports.Kutt, file: "kutt.csv", opts: imports.Options{SourceDomain: "kutt.it"},
		want: []string{
			"2 kutt:kutt.it/kutt-docs -> https://docs.kutt.example/ alias=kutt-docs title=Kutt's docs domain=kutt.it",
			"3 kutt:go.shop.example/sale -> https://shop.example/sale alias=sale domain=go.shop.example expires=2031-06-01T10:00:00Z",
		},
	}, {
		format: imports.Shlink, file: "shlink.json",
		want: []string{
			"4 shlink:s.test/12C18 -> https://store.example.com/ alias=12C18 title=Welcome to Steam tags=games|tech domain=s.test",
			"19 shlink:example.com/custom -> https://shlink.io alias=custom domain=example.com expires=2035-01-01T00:00:00Z",
		},
		bad: []string{`line 36: validUntil: "yesterday" is not a timestamp (use RFC 3339, for example 2026-01-31T12:00:00Z)`},
	}, {
		format: imports.Shlink, file: "shlink.csv",
		want: []string{
			"2 shlink:s.test/12C18 -> https://store.example.com/ alias=12C18 title=Welcome to Steam tags=games|tech domain=s.test",
			"3 shlink:example.com/custom -> https://shlink.io alias=custom domain=example.com",
		},
	}} {
		t.Run(tc.file, func(t *testing.T) {
			recs, bad, err := readAll(t, openFile(t, tc.format, tc.file, tc.opts))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, show(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if strings.Join(bad, "\n") != strings.Join(tc.bad, "\n") {
				t.Errorf("bad lines:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(tc.bad, "\n"))
			}
		})
	}
}
