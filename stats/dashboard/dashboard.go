// Package dashboard is Shortify's web dashboard: an overview page, the
// links page (/dashboard/links: the workspace's links, searched, filtered
// by tag, created, edited, disabled and deleted) and a page per link,
// served under /dashboard/ by the shortify_stats handler.
//
// The pages are html/template shells; the browser fills them from the
// stats API (/api/v1/stats/…) and the control plane's API (/api/v1/links…)
// with small scripts of their own (no framework, no build step): the
// links page's links.js and linkform.js use dashboard.js's helpers. A link's
// page also edits its smart-link fields with PATCH /api/v1/links/{code}:
// the rules and the split are JSON that the API checks, so the page shows
// the API's refusal (its problem's field and detail) rather than
// repeating the validation. Every asset is embedded in the binary.
//
// Authentication: the APIs want an API key as "Authorization: Bearer
// <key>" (or in X-Api-Key), which a page navigation cannot send. The dashboard asks for a key once and
// keeps it in the tab's sessionStorage (gone when the tab closes, never
// sent to other origins, never in a cookie, so there is no CSRF to guard
// against); its script sends it with every API call. A viewer key is
// enough to look; creating a link needs a creator key unless anonymous
// creation is on (as in the embedded default), when the form works
// without a key. The script learns the key's role from the stats API
// (GET /api/v1/stats/workspace) and turns off, with a note, the forms a
// viewer key would only get a 403 from; "Forget" drops the key and clears
// everything it showed.
//
// Escaping: the server only writes the code of the page into the HTML,
// through html/template. The script writes everything that users wrote
// (target URLs, referrers, user agents' families) with textContent and
// setAttribute, never as markup, and the Content-Security-Policy forbids
// inline scripts and styles, so a target such as
// https://example.com/?q=<script>… shows as text.
//
// Scripts: dashboard.js is an ES module that imports its neighbours in
// static/ (the API calls, the chart, the date range, the countries card,
// the smart-link form, small helpers), so a statistics page still loads
// one script element of its own origin, with no build step. The
// statistics' date range lives in the page's URL query, which the server
// ignores: the script reads it and asks the stats API.
package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/shortify/shortify/internal/shortcode"
)

// Prefix is the path under which the dashboard lives. "dashboard" is a
// reserved word, so no alias shadows it.
const Prefix = "/dashboard/"

// CSP is the Content-Security-Policy of every page and asset: only this
// origin's scripts, styles, images and API calls, QR codes as data: URLs,
// no framing, no plugins, no <base>, forms only to this origin.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Handler serves the dashboard.
type Handler struct {
	static http.Handler
}

// New builds the handler.
func New() *Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &Handler{static: http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))}
}

// page is what a template gets.
type page struct {
	// Title is the page's title.
	Title string
	// Code is the link of a link page ("" on the overview).
	Code string
}

// ServeHTTP implements http.Handler for /dashboard and everything under
// /dashboard/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	switch {
	case path == strings.TrimSuffix(Prefix, "/"):
		http.Redirect(w, r, Prefix, http.StatusPermanentRedirect)
	case path == Prefix:
		h.render(w, r, http.StatusOK, "overview.html", page{Title: "Overview"})
	case path == Prefix+"links":
		h.render(w, r, http.StatusOK, "links.html", page{Title: "Links"})
	case path == Prefix+"links/":
		// No code: the list, whose address has no trailing slash.
		http.Redirect(w, r, Prefix+"links", http.StatusPermanentRedirect)
	case strings.HasPrefix(path, Prefix+"links/"):
		code := strings.TrimPrefix(path, Prefix+"links/")
		if !shortcode.WellFormed(code) {
			h.render(w, r, http.StatusNotFound, "notfound.html", page{Title: "Not found"})
			return
		}
		h.render(w, r, http.StatusOK, "link.html", page{Title: code, Code: code})
	case strings.HasPrefix(path, Prefix+"static/"):
		// The assets change only with a new build, and embed.FS gives
		// them no modification time to revalidate with: five minutes of
		// caching, so that an upgrade shows soon.
		hdr.Set("Cache-Control", "public, max-age=300")
		h.static.ServeHTTP(w, r)
	default:
		h.render(w, r, http.StatusNotFound, "notfound.html", page{Title: "Not found"})
	}
}

// render executes a template into a buffer first, so that a failure is a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
