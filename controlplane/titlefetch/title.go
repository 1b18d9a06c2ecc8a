package titlefetch

import (
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// errNoTitle is what Parse returns for a page without a usable title.
var errNoTitle = errors.New("the page has no title")

// Parse reads an HTML document from r (UTF-8; the fetcher converts other
// charsets first) and returns its title: the first <title> outside SVG,
// else the og:title meta property, cleaned by Clean and cut to maxLen
// characters. It stops reading at the title, or at the end of r; a read
// error before a title is found is returned as is.
func Parse(r io.Reader, maxLen int) (string, error) {
	z := html.NewTokenizer(r)
	var (
		og      string
		svg     int  // depth of <svg> elements: their <title> is a tooltip
		inTitle bool // inside the document's <title>
		title   strings.Builder
	)
	for {
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return "", err
			}
			if t := Clean(title.String(), maxLen); t != "" {
				return t, nil // an unclosed <title> at the end of the page
			}
			if t := Clean(og, maxLen); t != "" {
				return t, nil
			}
			return "", errNoTitle
		case html.TextToken:
			if inTitle && title.Len() < 4*maxLen+64 {
				title.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch atom.Lookup(name) {
			case atom.Svg:
				svg++
			case atom.Title:
				inTitle = svg == 0
			case atom.Meta:
				if og == "" && hasAttr {
					og = ogTitle(z)
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Svg:
				svg = max(svg-1, 0)
			case atom.Title:
				if inTitle {
					if t := Clean(title.String(), maxLen); t != "" {
						return t, nil
					}
					inTitle = false
					title.Reset()
				}
			}
		}
	}
}

// ogTitle returns the content of a <meta property="og:title"> tag ("" for
// any other meta tag).
func ogTitle(z *html.Tokenizer) string {
	var prop, content string
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "property", "name":
			if strings.EqualFold(strings.TrimSpace(string(v)), "og:title") {
				prop = "og:title"
			}
		case "content":
			content = string(v)
		}
		if !more {
			break
		}
	}
	if prop == "" {
		return ""
	}
	return content
}

// Clean makes a page's title fit to store and show: invalid UTF-8,
// control characters and bidirectional overrides (which could make the
// dashboard show text other than it holds) removed, runs of white space
// collapsed to one space, trimmed, and cut to maxLen characters (the last
// one an ellipsis when cut). Entities are decoded by the HTML tokenizer
// before.
func Clean(s string, maxLen int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), isBidiControl(r):
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if maxLen <= 0 || utf8.RuneCountInString(s) <= maxLen {
		return s
	}
	cut := []rune(s)[:maxLen-1]
	return strings.TrimRight(string(cut), " ") + "…"
}

// isBidiControl reports whether r is a bidirectional embedding, override
// or isolate (U+202A–U+202E, U+2066–U+2069).
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}
