package caddymodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
)

// The edge answers a few small HTML pages of its own: the landing page at
// /, the interstitial of a blocked link, the notice of a taken-down link.
// They are written one way: the same head, one inline style that is part
// of the page's constant text and that the CSP allows by its hash, and
// nothing else (no script, no frame, no form, no other origin), so that a
// value put into a page (html/template escapes it) can never run. The one
// exception is the password form (password_page.go), whose CSP lets it
// post to its own origin.

// page is one of those pages: its template and its CSP.
type page struct {
	tmpl *template.Template
	csp  []string
}

// newPage builds the page named name with that title, style and body
// (html/template text, the values of render's data).
func newPage(name, title, style, body string) page {
	return newPageHead(name, title, "", style, body)
}

// newPageHead is newPage with more elements in the head (html/template
// text), such as a link preview's meta tags.
func newPageHead(name, title, head, style, body string) page {
	return page{
		tmpl: template.Must(template.New(name).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>` + title + `</title>
` + head + `<style>` + style + `</style>
</head>
<body>
` + body + `</body>
</html>
`)),
		csp: []string{"default-src 'none'; style-src 'sha256-" + styleHash(style) +
			"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	}
}

// render returns the page with data's values.
func (p page) render(data any) []byte {
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, data); err != nil {
		panic(err) // a constant template; the values are strings, which cannot fail it
	}
	return b.Bytes()
}

// header sets the headers every answer with the page has: its type,
// length and CSP, no sniffing, no referrer. The caller adds its
// Cache-Control.
func (p page) header(hdr http.Header, length []string) {
	hdr["Content-Type"] = htmlCT
	hdr["Content-Length"] = length
	hdr["Content-Security-Policy"] = p.csp
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Referrer-Policy"] = noReferrer
}

// Headers of the pages, shared: never modified in place.
var (
	htmlCT     = []string{"text/html; charset=utf-8"}
	noReferrer = []string{"no-referrer"}
)

// contentLength is the Content-Length header of a body.
func contentLength(body []byte) []string { return []string{strconv.Itoa(len(body))} }

// styleHash is the base64 SHA-256 of an inline style, as CSP wants it.
func styleHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
