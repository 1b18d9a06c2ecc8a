package caddymodule

import (
	"net/http"
	"strings"
	"time"
)

// The password form: one of the edge's own pages (page.go), with the one
// difference that it has a form, so its CSP allows a form to post to this
// origin (form-action 'self') where the other pages allow none. The form
// has no action: it posts to the page's own URL, query included, so that
// nothing from the request is written into the page. Its only values are
// the CSRF token (base64url, made here) and a message from a fixed set.

// passwordStyle is the form's only style, allowed by its hash in the CSP.
const passwordStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:24em;margin:4em auto;padding:0 1em;color:#222}label{display:block;margin:1em 0 .3em}input[type=password]{width:100%;box-sizing:border-box;padding:.4em;font:inherit}button{margin-top:1em;padding:.4em 1.2em;font:inherit}.err{color:#a00}`

// passwordPage is the form.
var passwordPage = newPage("password", "Password required", passwordStyle, `<h1>This link is protected</h1>
<p>Enter its password to continue.</p>
{{if .Message}}<p class="err" role="alert">{{.Message}}</p>
{{end}}<form method="post">
<input type="hidden" name="csrf" value="{{.Token}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required autofocus>
<button type="submit">Continue</button>
</form>
`).postingToSelf()

// Messages of the form after a POST that did not let the visitor in.
const (
	msgWrongPassword = "That password is not right. Try again."
	msgNoPassword    = "Enter the password."
)

// postingToSelf returns p with a CSP that lets its form post to this
// origin, and nowhere else.
func (p page) postingToSelf() page {
	p.csp = []string{strings.Replace(p.csp[0], "form-action 'none'", "form-action 'self'", 1)}
	return p
}

// showForm answers the form with status (200 at first, 401 after a wrong
// password) and msg. It sets the CSRF nonce cookie, keeping the browser's
// nonce when it has one, so that two tabs of the same link both post
// tokens that verify.
func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, key string, now time.Time, status int, msg string) {
	p := h.pw
	nonce := csrfNonce(r)
	if nonce == "" {
		nonce = newNonce()
	}
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookieName,
		Value:    nonce,
		Path:     r.URL.Path,
		MaxAge:   int(csrfLifetime / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	body := passwordPage.render(struct{ Token, Message string }{signCSRF(p.key, key, nonce, now), msg})
	hdr := w.Header()
	passwordPage.header(hdr, contentLength(body))
	hdr["Cache-Control"] = ccNoStore
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	// A failed write means the client went away: nothing to report.
	_, _ = w.Write(body)
}

// csrfNonce returns the well-formed nonce cookie of r, or "".
func csrfNonce(r *http.Request) string {
	for i, c := range r.CookiesNamed(csrfCookieName) {
		if i >= maxCookiesTried {
			break
		}
		if validNonce(c.Value) {
			return c.Value
		}
	}
	return ""
}
