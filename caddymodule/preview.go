package caddymodule

import (
	"net/http"

	"github.com/shortify/shortify/internal/smartlink"
)

// Link previews (docs/smart-links.md, "Previews"): the crawlers that chat
// and social apps send to unfurl a link (Slack, X, Facebook, LinkedIn,
// Discord, WhatsApp, Telegram, …) get, for a link with a preview, a page
// with its OpenGraph and Twitter-card tags instead of the redirect. For a
// password-protected or click-limited link without a preview they get a
// neutral page titled with the short URL: an unfurler must never see the
// target of a protected link nor use up a one-time link. The answer is
// 200 without Location, claims no click and makes no click event. People
// get the redirect.
//
// The page is one of the edge's pages (page.go): every value is escaped
// by html/template, the CSP allows nothing but its one style, and it is
// "no-store", so that an edited preview reaches the next unfurl.

// previewStyle is the preview pages' only style.
const previewStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}`

// previewPage carries the tags unfurlers read.
var previewPage = newPageHead("preview", "{{.Title}}", `<meta property="og:type" content="website">
<meta property="og:title" content="{{.Title}}">
{{- if .Description}}
<meta property="og:description" content="{{.Description}}">{{end}}
{{- if .Image}}
<meta property="og:image" content="{{.Image}}">{{end}}
<meta property="og:url" content="{{.ShortURL}}">
<meta name="twitter:card" content="{{.Card}}">
<meta name="twitter:title" content="{{.Title}}">
{{- if .Description}}
<meta name="twitter:description" content="{{.Description}}">{{end}}
{{- if .Image}}
<meta name="twitter:image" content="{{.Image}}">{{end}}
`, previewStyle, `<h1>{{.Title}}</h1>
{{if .Description}}<p>{{.Description}}</p>
{{end}}<p>{{.ShortURL}}</p>
`)

// neutralPage says no more than the short URL.
var neutralPage = newPageHead("neutral", "{{.ShortURL}}", `<meta property="og:title" content="{{.ShortURL}}">
<meta property="og:url" content="{{.ShortURL}}">
`, previewStyle, `<p>{{.ShortURL}}</p>
`)

// previewData are the values of the preview pages.
type previewData struct {
	Title, Description, Image, ShortURL, Card string
}

// preview answers a link-preview crawler for the smart link code: its
// preview page, or the neutral page when it has none.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, st site, code string, c smartlink.Compiled) error {
	d := previewData{ShortURL: shortURL(r, code)}
	pg := neutralPage
	if p, ok := c.Preview(); ok {
		pg = previewPage
		d.Title, d.Description, d.Image = p.Title, p.Description, p.Image
		if d.Title == "" {
			d.Title = d.ShortURL
		}
		d.Card = "summary"
		if d.Image != "" {
			d.Card = "summary_large_image"
		}
	}
	body := pg.render(d)
	hdr := w.Header()
	pg.header(hdr, contentLength(body))
	hdr["Cache-Control"] = ccNoStore
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write means the client went away
	}
	return nil
}

// shortURL is the link's short URL as the request reached it.
func shortURL(r *http.Request, code string) string {
	scheme := "https://"
	if r.TLS == nil {
		scheme = "http://"
	}
	return scheme + r.Host + "/" + code
}
