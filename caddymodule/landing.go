package caddymodule

import (
	"errors"
	"net/http"
	"net/url"
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

// landingPage is the page. None of its values comes from the request, so
// the page cannot reflect anything a client sent.
var landingPage = newPage("landing", "Shortify", landingStyle, `<h1>Shortify</h1>
<p>This is a link shortener. A short link is this address followed by a code, such as <code>/{{.Example}}</code>: opening one takes you to the page it stands for.</p>
<p>To create short links and see how often they are opened, go to the <a href="{{.Dashboard}}">dashboard</a>.</p>
`)

// landingDashboard is where the page's link goes: the stats dashboard,
// which every Shortify layout serves on the shortener's host (the root
// Caddyfile in the same process, deploy/ through the front door).
const landingDashboard = "/dashboard/"

// The page and its headers, built once.
var (
	landingBody = landingPage.render(struct {
		Example   string
		Dashboard string
	}{"abc123", landingDashboard})
	landingLen      = contentLength(landingBody)
	landingCC       = []string{"public, max-age=300"}
	errRootRedirect = errors.New("root_redirect: want an http:// or https:// URL, or a path other than /")
)

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
	landingPage.header(hdr, landingLen)
	hdr["Cache-Control"] = landingCC
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	// A failed write means the client went away: nothing to report.
	_, _ = w.Write(landingBody)
	return nil
}
