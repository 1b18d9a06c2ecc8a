package titlefetch

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestParse(t *testing.T) {
	long := strings.Repeat("word ", 200) // 1000 characters
	tests := []struct{ name, page, want string }{
		{"title", `<html><head><title>Hello</title></head></html>`, "Hello"},
		{"entities", `<title>Caf&eacute; &amp; Bar &mdash; &#x1F600; &lt;b&gt;</title>`, "Café & Bar — 😀 <b>"},
		{"whitespace", "<title>\n\t  Two\n\n   lines\u00a0here  \r\n</title>", "Two lines here"},
		{"controls", "<title>a\x01b\u202Ec\u2066d</title>", "abcd"},
		{"og fallback", `<head><meta property="og:title" content="From &quot;OG&quot;"></head>`, `From "OG"`},
		{"og when title empty", `<title>   </title><meta property="og:title" content="OG">`, "OG"},
		{"title before og", `<meta property="og:title" content="OG"><title>Doc</title>`, "Doc"},
		{"og by name", `<meta name="OG:Title" content="N">`, "N"},
		{"svg title skipped", `<body><svg><title>icon</title></svg><title>Real</title>`, "Real"},
		{"only svg title", `<svg><title>icon</title></svg>`, ""},
		{"unclosed", `<title>Unclosed`, "Unclosed"},
		{"markup in title", `<title>A <b>bold</b> move</title>`, "A <b>bold</b> move"},
		{"uppercase tags", `<HTML><HEAD><TITLE>Loud</TITLE>`, "Loud"},
		{"none", `<html><body>no title</body></html>`, ""},
		{"empty", ``, ""},
		{"long", "<title>" + long + "</title>", strings.TrimSpace(long)[:49*2] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 500
			if tt.name == "long" {
				max = 99
			}
			got, err := Parse(strings.NewReader(tt.page), max)
			if tt.want == "" {
				if err != errNoTitle {
					t.Fatalf("Parse = %q, %v; want errNoTitle", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"  a  b ":    "a b",
		"\xffok\xfe": "ok",
		"tab\there":  "tab…",
		"a\tb":       "a b",
		"ééééé":      "ééééé",
		"éééééé":     "éééé…",
		"abcd efgh":  "abcd…",
		"ab  cdefgh": "ab c…",
		"\u200dzwj":  "\u200dzwj",
	} {
		if got := Clean(in, 5); got != want {
			t.Errorf("Clean(%q, 5) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: any page gives a title that is valid UTF-8, within the
// limit, trimmed, without control characters, or no title; never a
// panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<title>Hello</title>`, `<meta property="og:title" content="x">`, `<svg><title>a</title></svg>`,
		"<title>\x00\xff</title>", `<title>&#0;&#xD800;</title>`, `<title`, `<<title>>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, page string) {
		got, err := Parse(strings.NewReader(page), 40)
		if err != nil {
			return
		}
		if got == "" || !utf8.ValidString(got) || utf8.RuneCountInString(got) > 40 || strings.TrimSpace(got) != got ||
			strings.ContainsAny(got, "\x00\n\t\r") || strings.Contains(got, "  ") {
			t.Fatalf("Parse(%q) = %q", page, got)
		}
	})
}
