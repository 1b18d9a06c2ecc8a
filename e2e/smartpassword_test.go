package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// smartPassword: a browser gets the form (200, no Location, no-store, a
// CSP), a wrong password the form again with 401, the right one the
// redirect and a cookie with which the next visit skips the form; a script
// uses Basic auth; the form's views claim no clicks; attempts are limited.
func smartPassword(c smartClient) {
	t := c.t
	const target = "https://example.com/secret/plans"
	l := c.create(`{"url":"` + target + `","password":"correct horse battery"}`)
	if !l.PasswordProtected {
		t.Fatalf("created link: password_protected false")
	}
	if b := c.link(l.Code, nil); bytes.Contains(b, []byte("argon2")) || bytes.Contains(b, []byte("correct horse")) {
		t.Fatalf("GET link shows the password or its hash: %s", b)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: noFollow.CheckRedirect}
	resp, body := c.visit(browser, "GET", "/"+l.Code, nil)
	c.wantForm("the first visit", resp, body, http.StatusOK)
	f := parsePasswordForm(t, body)

	resp, body = c.submit(browser, l.Code, f, "wrong password")
	c.wantForm("a wrong password", resp, body, http.StatusUnauthorized)
	f = parsePasswordForm(t, body)

	resp, _ = c.submit(browser, l.Code, f, "correct horse battery")
	c.wantRedirect("the right password", resp, http.StatusSeeOther, target)
	// The link's cookie: sent for this link only, never to scripts,
	// and on top-level clicks from other sites (Lax).
	var linkCookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Path == "/"+l.Code && ck.Value != "" && ck.MaxAge > 0 {
			linkCookie = ck
		}
	}
	if linkCookie == nil || !linkCookie.HttpOnly || linkCookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("the right password set no HttpOnly, SameSite=Lax cookie for Path=/%s: %v", l.Code, resp.Header.Values("Set-Cookie"))
	}
	resp, _ = c.visit(browser, "GET", "/"+l.Code, nil)
	c.wantRedirect("the next visit with the cookie", resp, 0, target)

	// A script, with Basic auth and no cookies.
	basic := func(password string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), "GET", c.s.base+"/"+l.Code, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("script", password)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := basic("wrong password"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("Basic auth, wrong password: %d WWW-Authenticate %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	c.wantRedirect("Basic auth, right password", basic("correct horse battery"), 0, target)

	// Clicks are counted when the redirect is served: a link of two
	// clicks shows its form any number of times, then redirects twice.
	limited := c.create(`{"url":"` + target + `","password":"pw-2","max_clicks":2}`)
	for i := range 3 {
		resp, body := c.visit(noFollow, "GET", "/"+limited.Code, nil)
		c.wantForm(fmt.Sprintf("form view %d of the limited link", i+1), resp, body, http.StatusOK)
	}
	for i := range 2 {
		resp, _ := c.visit(noFollow, "GET", "/"+limited.Code, map[string]string{"Authorization": basicAuth("pw-2")})
		c.wantRedirect(fmt.Sprintf("click %d of 2 after three form views", i+1), resp, 0, target)
	}
	if resp, _ := c.visit(noFollow, "GET", "/"+limited.Code, map[string]string{"Authorization": basicAuth("pw-2")}); resp.StatusCode != http.StatusGone {
		t.Fatalf("the third click of a two-click link: %d, want 410", resp.StatusCode)
	}

	// Guessing is limited per client and link: 429 with Retry-After.
	guessed := c.create(`{"url":"` + target + `","password":"not-guessable"}`)
	for i := range 30 {
		resp, _ := c.visit(noFollow, "GET", "/"+guessed.Code, map[string]string{"Authorization": basicAuth(fmt.Sprintf("guess-%d", i))})
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			continue
		case http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") == "" {
				t.Fatalf("guess %d: 429 without Retry-After", i+1)
			}
			t.Logf("guess %d was refused with 429, Retry-After %s", i+1, resp.Header.Get("Retry-After"))
			return
		default:
			t.Fatalf("guess %d: %d, want 401 or 429", i+1, resp.StatusCode)
		}
	}
	t.Fatalf("30 wrong passwords in a row were never refused with 429")
}

func basicAuth(password string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("script", password)
	return req.Header.Get("Authorization")
}

// wantForm fails unless resp is the password form with status want.
func (c smartClient) wantForm(what string, resp *http.Response, body []byte, want int) {
	c.t.Helper()
	if resp.StatusCode != want || resp.Header.Get("Location") != "" {
		c.t.Fatalf("%s: %d Location %q, want the form with %d and no Location: %s", what, resp.StatusCode, resp.Header.Get("Location"), want, body)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		c.t.Fatalf("%s: Cache-Control %q, want no-store", what, cc)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") && !strings.Contains(csp, "default-src 'self'") {
		c.t.Fatalf("%s: Content-Security-Policy %q, want a strict one", what, csp)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		c.t.Fatalf("%s: Content-Type %q", what, resp.Header.Get("Content-Type"))
	}
}

// passwordForm is the edge's password form as a browser reads it.
type passwordForm struct {
	action   string
	hidden   url.Values
	password string // the password input's name
}

// parsePasswordForm reads the first form of page.
func parsePasswordForm(t *testing.T, page []byte) passwordForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the form page: %v", err)
	}
	f := passwordForm{hidden: url.Values{}}
	inForm := false
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "form":
			if !inForm {
				inForm = true
				f.action = attr(n, "action")
			}
		case "input":
			switch strings.ToLower(attr(n, "type")) {
			case "hidden":
				f.hidden.Add(attr(n, "name"), attr(n, "value"))
			case "password":
				f.password = attr(n, "name")
			}
		}
	}
	if !inForm || f.password == "" {
		t.Fatalf("no form with a password input in:\n%s", page)
	}
	return f
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// submit posts the form with password as a browser does.
func (c smartClient) submit(client *http.Client, code string, f passwordForm, password string) (*http.Response, []byte) {
	c.t.Helper()
	action, err := url.Parse(f.action)
	if err != nil {
		c.t.Fatalf("form action %q: %v", f.action, err)
	}
	page, _ := url.Parse(c.s.base + "/" + code)
	target := page.ResolveReference(action)
	if target.Host != page.Host {
		c.t.Fatalf("the form posts to %s, not to the edge", target)
	}
	v := url.Values{}
	for k, vs := range f.hidden {
		v[k] = vs
	}
	v.Set(f.password, password)
	return c.do(client, "POST", target.RequestURI(), map[string]string{
		"User-Agent":   desktopUA,
		"Content-Type": "application/x-www-form-urlencoded",
		"Origin":       c.s.base,
		"Referer":      page.String(),
	}, v.Encode())
}
