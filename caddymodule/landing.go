package caddymodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// GET and HEAD / on the shortener is where a person lands who typed the
// host without a code. They get either the configured root_redirect (302)
// or a small HTML page that says what this is and links to the dashboard.
// With not_found "next" and no root_redirect, / goes to the next handler
// as any path that is not a code does, so that a site can serve its own
// index there.

// landingStyle is the page's only style, allowed by its hash in the CSP.
const landingStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}code{background:#f3f3f3;padding:0 .2em}`

// landingTemplate is the page. html/template escapes every value put into
// it; none comes from the request, so the page cannot reflect anything a
// client sent.
var landingTemplate = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Shortify</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>Shortify</h1>
<p>This is a link shortener. A short link is this address followed by a code, such as <code>/{{.Example}}</code>: opening one takes you to the page it stands for.</p>
<p>To create short links and see how often they are opened, go to the <a href="{{.Dashboard}}">dashboard</a>.</p>
</body>
</html>
`))

// landingDashboard is where the page's link goes: the stats dashboard,
// which every Shortify layout serves on the shortener's host (the root
// Caddyfile in the same process, deploy/ through the front door).
const landingDashboard = "/dashboard/"

// The page and its headers, built once.
var (
	landingBody = renderLanding()
	landingLen  = []string{strconv.Itoa(len(landingBody))}
	landingCT   = []string{"text/html; charset=utf-8"}
	// No script, no frame, no form, no other origin: only the inline style,
	// by its hash.
	landingCSP = []string{"default-src 'none'; style-src 'sha256-" + styleHash(landingStyle) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}
	landingCC       = []string{"public, max-age=300"}
	noReferrer      = []string{"no-referrer"}
	errRootRedirect = errors.New("root_redirect: want an http:// or https:// URL, or a path other than /")
)

func renderLanding() []byte {
	var b bytes.Buffer
	err := landingTemplate.Execute(&b, struct {
		Style     template.CSS
		Example   string
		Dashboard string
	}{landingStyle, "abc123", landingDashboard})
	if err != nil {
		panic(err) // a constant template with constant values
	}
	return b.Bytes()
}

// styleHash is the base64 SHA-256 of an inline style, as CSP wants it.
func styleHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// checkRootRedirect refuses a root_redirect that is neither an absolute
// http(s) URL nor a path, or that would send / back to itself.
func checkRootRedirect(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil, strings.ContainsAny(v, " \t\r\n"):
		return errRootRedirect
	case u.Scheme == "" && u.Host == "":
		if !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
			return errRootRedirect
		}
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errRootRedirect
	}
	return nil
}

// root answers GET or HEAD /: the root_redirect, the landing page, or,
// with not_found "next" and no root_redirect, the next handler.
func (h *Handler) root(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	hdr := w.Header()
	if h.rootLocation != nil {
		hdr["Location"] = h.rootLocation
		hdr["Cache-Control"] = ccNoStore
		w.WriteHeader(http.StatusFound)
		return nil
	}
	if h.notFoundNext {
		return next.ServeHTTP(w, r)
	}
	hdr["Content-Type"] = landingCT
	hdr["Content-Length"] = landingLen
	hdr["Content-Security-Policy"] = landingCSP
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Referrer-Policy"] = noReferrer
	hdr["Cache-Control"] = landingCC
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	// A failed write means the client went away: nothing to report.
	_, _ = w.Write(landingBody)
	return nil
}
