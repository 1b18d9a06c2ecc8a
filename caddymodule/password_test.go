package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

const (
	testLinkPassword = "correct horse battery staple"
	testTarget       = "https://example.com/secret"
)

// testHash is the argon2id hash of testLinkPassword, made once: each
// hash costs as much as a check.
var testHash = sync.OnceValue(func() string {
	h, err := smartlink.HashPassword(testLinkPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// gateServer serves passwordGate's decision for every path /{code} as
// H4's redirect path does: on true, the redirect (303 after a POST).
// hash is read per request, so that a test can change the password.
func gateServer(t *testing.T, h *Handler, hash *string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hs := *hash
		mu.Unlock()
		code := strings.TrimPrefix(r.URL.Path, "/")
		if !h.checkPassword(w, r, code, hs) {
			return
		}
		w.Header().Set("Location", testTarget)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusSeeOther)
		} else {
			w.WriteHeader(http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that tests see them.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// passwordHandler provisions a handler with a fixed cookie key (and the
// given settings).
func passwordHandler(t *testing.T, h *Handler) *Handler {
	t.Helper()
	h.Database = sqliteDSN(t)
	if h.LinkCookieKey == "" {
		h.LinkCookieKey = testPassword(t)
	}
	return provision(t, h)
}

type pwAnswer struct {
	status int
	header http.Header
	body   string
}

func doReq(t *testing.T, c *http.Client, req *http.Request) pwAnswer {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pwAnswer{res.StatusCode, res.Header, string(b)}
}

func getURL(t *testing.T, c *http.Client, u string) pwAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doReq(t, c, req)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) pwAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doReq(t, c, req)
}

func basicGet(t *testing.T, c *http.Client, u, pw string) pwAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("anyone", pw)
	return doReq(t, c, req)
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken returns the CSRF token of a form page, failing the test when
// a is not the form.
func formToken(t *testing.T, a pwAnswer) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("status %d: not the form: %q", a.status, a.body)
	}
	return m[1]
}

// problemField returns the field a problem document names.
func problemField(t *testing.T, a pwAnswer) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d: Content-Type %q, want a problem document: %q", a.status, ct, a.body)
	}
	var p struct {
		Status int    `json:"status"`
		Field  string `json:"field"`
	}
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Status != a.status {
		t.Fatalf("status %d: problem %q: %v", a.status, a.body, err)
	}
	return p.Field
}

func findCookie(res http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: res}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestPasswordFormFlow is the browser's way: the form, a wrong password,
// the right one, then the cookie alone.
func TestPasswordFormFlow(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	c := browser(t)
	u := srv.URL + "/abc123"

	a := getURL(t, c, u)
	if a.status != http.StatusOK || a.header.Get("Location") != "" {
		t.Fatalf("first GET: %d, Location %q: want the form, 200", a.status, a.header.Get("Location"))
	}
	for name, want := range map[string]string{
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"Content-Type":           "text/html; charset=utf-8",
	} {
		if got := a.header.Get(name); got != want {
			t.Errorf("form: %s %q, want %q", name, got, want)
		}
	}
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("form CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(a.body, "<script") {
		t.Errorf("the form has or allows scripts: CSP %q", csp)
	}
	nonce := findCookie(a.header, csrfCookieName)
	if nonce == nil || !nonce.HttpOnly || nonce.SameSite != http.SameSiteStrictMode || nonce.Path != "/abc123" || nonce.MaxAge != 3600 {
		t.Fatalf("CSRF cookie %+v: want HttpOnly, SameSite=Strict, Path=/abc123, Max-Age=3600", nonce)
	}
	token := formToken(t, a)

	a = postForm(t, c, u, url.Values{"csrf": {token}, "password": {"wrong"}})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, msgWrongPassword) {
		t.Fatalf("wrong password: %d %q: want the form again with its message, 401", a.status, a.body)
	}
	if a.header.Get("Www-Authenticate") != "" {
		t.Errorf("the form's 401 has WWW-Authenticate %q: a browser would show a dialog", a.header.Get("Www-Authenticate"))
	}
	token = formToken(t, a)

	a = postForm(t, c, u, url.Values{"csrf": {token}, "password": {testLinkPassword}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != testTarget {
		t.Fatalf("right password: %d, Location %q: want the 303", a.status, a.header.Get("Location"))
	}
	pass := findCookie(a.header, passCookieName)
	if pass == nil || !pass.HttpOnly || pass.SameSite != http.SameSiteLaxMode || pass.Path != "/abc123" ||
		pass.MaxAge != int(DefaultPasswordCookieLifetime/time.Second) || pass.Secure {
		t.Fatalf("access cookie %+v: want HttpOnly, SameSite=Lax, Path=/abc123, Max-Age=86400, not Secure over plain HTTP", pass)
	}

	a = getURL(t, c, u)
	if a.status != http.StatusFound || a.header.Get("Location") != testTarget {
		t.Fatalf("GET with the cookie: %d: want the redirect", a.status)
	}
	if got := h.pw.attempts.ok.Load(); got != 1 {
		t.Errorf("attempts ok = %d, want 1 (the cookie costs no check)", got)
	}
	if got := h.pw.attempts.wrong.Load(); got != 1 {
		t.Errorf("attempts wrong = %d, want 1", got)
	}

	// The cookie is the link's: another code, even sent the cookie by
	// hand, gets the form.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/other1", nil)
	req.AddCookie(&http.Cookie{Name: passCookieName, Value: pass.Value})
	if a = doReq(t, http.DefaultClient, req); a.status != http.StatusOK {
		t.Errorf("another link with this link's cookie: %d, want the form", a.status)
	}

	// A new password voids the cookie.
	other, err := smartlink.HashPassword("a new password")
	if err != nil {
		t.Fatal(err)
	}
	hash = other
	if a = getURL(t, c, u); a.status != http.StatusOK {
		t.Errorf("after the password changed: %d, want the form", a.status)
	}
}

// TestPasswordCookieExpires: the cookie lets the browser in for its
// lifetime, not after.
func TestPasswordCookieExpires(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := passwordHandler(t, &Handler{clock: clock, PasswordCookieLifetime: caddy.Duration(time.Hour)})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	c := browser(t)
	u := srv.URL + "/exp1"
	a := basicGet(t, c, u, testLinkPassword)
	if a.status != http.StatusFound {
		t.Fatalf("Basic right: %d, want 302", a.status)
	}
	pass := findCookie(a.header, passCookieName)
	if pass == nil || pass.MaxAge != 3600 {
		t.Fatalf("access cookie %+v: want Max-Age=3600", pass)
	}
	send := func() int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.AddCookie(&http.Cookie{Name: passCookieName, Value: pass.Value})
		return doReq(t, browser(t), req).status
	}
	clock.Advance(59 * time.Minute)
	if s := send(); s != http.StatusFound {
		t.Errorf("cookie at 59m: %d, want 302", s)
	}
	clock.Advance(time.Minute)
	if s := send(); s != http.StatusOK {
		t.Errorf("cookie at 60m: %d, want the form", s)
	}
}

// TestPasswordBasic: scripts send the password with HTTP Basic; only
// they get a Basic challenge.
func TestPasswordBasic(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	u := srv.URL + "/basic1"

	a := basicGet(t, browser(t), u, testLinkPassword)
	if a.status != http.StatusFound || a.header.Get("Location") != testTarget || findCookie(a.header, passCookieName) == nil {
		t.Errorf("Basic right: %d, cookie %v: want 302 and the access cookie", a.status, findCookie(a.header, passCookieName))
	}
	a = basicGet(t, browser(t), u, "wrong")
	if a.status != http.StatusUnauthorized || a.header.Get("Www-Authenticate") != `Basic realm="shortify link"` {
		t.Errorf("Basic wrong: %d, WWW-Authenticate %q: want 401 with the Basic challenge", a.status, a.header.Get("Www-Authenticate"))
	}
	problemField(t, a)
	if a = getURL(t, browser(t), u); a.status != http.StatusOK || a.header.Get("Www-Authenticate") != "" {
		t.Errorf("no Basic: %d, WWW-Authenticate %q: want the form and no challenge", a.status, a.header.Get("Www-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Basic !!!not-base64")
	if a = doReq(t, browser(t), req); a.status != http.StatusBadRequest || problemField(t, a) != "Authorization" {
		t.Errorf("malformed Basic: %d %q: want 400 naming Authorization", a.status, a.body)
	}
	req, _ = http.NewRequest(http.MethodHead, u, nil)
	req.SetBasicAuth("", testLinkPassword)
	if a = doReq(t, browser(t), req); a.status != http.StatusFound {
		t.Errorf("HEAD with Basic right: %d, want 302", a.status)
	}
	req, _ = http.NewRequest(http.MethodHead, u, nil)
	if a = doReq(t, browser(t), req); a.status != http.StatusOK || a.body != "" || a.header.Get("Content-Length") == "0" {
		t.Errorf("HEAD without: %d, %d bytes, Content-Length %q: want the form's headers, no body", a.status, len(a.body), a.header.Get("Content-Length"))
	}
}

// TestPasswordCSRF: a POST without this browser's token for this link is
// refused before any password check.
func TestPasswordCSRF(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	u := srv.URL + "/csrf1"

	c := browser(t)
	token := formToken(t, getURL(t, c, u))
	otherLink := formToken(t, getURL(t, c, srv.URL+"/csrf2"))
	stranger := browser(t) // no nonce cookie: a cross-site form post
	tests := []struct {
		name   string
		client *http.Client
		form   url.Values
	}{
		{"no token", c, url.Values{"password": {testLinkPassword}}},
		{"junk token", c, url.Values{"csrf": {"junk"}, "password": {testLinkPassword}}},
		{"another link's token", c, url.Values{"csrf": {otherLink}, "password": {testLinkPassword}}},
		{"another browser's post", stranger, url.Values{"csrf": {token}, "password": {testLinkPassword}}},
	}
	for _, tt := range tests {
		a := postForm(t, tt.client, u, tt.form)
		if a.status != http.StatusForbidden || problemField(t, a) != "csrf" {
			t.Errorf("%s: %d %q: want 403 naming csrf", tt.name, a.status, a.body)
		}
	}
	if got := h.pw.attempts.csrf.Load(); got != uint64(len(tests)) {
		t.Errorf("attempts csrf = %d, want %d", got, len(tests))
	}
	if got := h.pw.attempts.ok.Load() + h.pw.attempts.wrong.Load(); got != 0 {
		t.Errorf("%d passwords checked, want none", got)
	}
	// The same browser's token still works.
	if a := postForm(t, c, u, url.Values{"csrf": {token}, "password": {testLinkPassword}}); a.status != http.StatusSeeOther {
		t.Errorf("the browser's own token: %d, want 303", a.status)
	}
}

// TestPasswordAttemptsLimited: wrong passwords spend the client's
// attempts on the link; beyond them, 429 with Retry-After, even for the
// right one, until the bucket refills. Right passwords spend nothing.
func TestPasswordAttemptsLimited(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := passwordHandler(t, &Handler{clock: clock,
		PasswordAttempts: &RateLimit{Requests: 3, Window: caddy.Duration(time.Minute), Burst: 3}})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	u := srv.URL + "/lim1"
	c := browser(t)

	for i := range 10 {
		if a := basicGet(t, browser(t), u, testLinkPassword); a.status != http.StatusFound {
			t.Fatalf("right password #%d: %d, want 302 (right ones spend nothing)", i+1, a.status)
		}
	}
	for i := range 3 {
		if a := basicGet(t, c, u, "wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong #%d: %d, want 401", i+1, a.status)
		}
	}
	a := basicGet(t, c, u, "wrong")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "20" || !strings.Contains(a.header.Get("RateLimit-Policy"), `"password"`) {
		t.Fatalf("4th wrong: %d, Retry-After %q, RateLimit-Policy %q: want 429, 20, \"password\"", a.status, a.header.Get("Retry-After"), a.header.Get("RateLimit-Policy"))
	}
	problemField(t, a)
	// The form's POST is limited too.
	token := formToken(t, getURL(t, c, u))
	if a = postForm(t, c, u, url.Values{"csrf": {token}, "password": {testLinkPassword}}); a.status != http.StatusTooManyRequests {
		t.Errorf("form POST while limited: %d, want 429", a.status)
	}
	// Other links are not.
	if a = basicGet(t, c, srv.URL+"/lim2", "wrong"); a.status != http.StatusUnauthorized {
		t.Errorf("another link: %d, want 401", a.status)
	}
	if got := h.pw.attempts.limited.Load(); got != 2 {
		t.Errorf("attempts limited = %d, want 2", got)
	}
	clock.Advance(20 * time.Second)
	if a = basicGet(t, browser(t), u, testLinkPassword); a.status != http.StatusFound {
		t.Errorf("after Retry-After: %d, want 302", a.status)
	}
}

// TestPasswordAttemptsShared: with Redis, attempts spent at one edge are
// spent at every edge.
func TestPasswordAttemptsShared(t *testing.T) {
	t.Parallel()
	redisAddr := testenv.RedisAddr(t)
	lim := &RateLimit{Requests: 2, Window: caddy.Duration(time.Minute), Burst: 2, Name: "pw-" + newCode(t, "shared")}
	edgeA := passwordHandler(t, &Handler{Redis: redisAddr, PasswordAttempts: lim, keySalt: t.Name() + "/a"})
	key := edgeA.LinkCookieKey
	edgeB := passwordHandler(t, &Handler{Redis: redisAddr, PasswordAttempts: lim, LinkCookieKey: key, keySalt: t.Name() + "/b"})
	hash := testHash()
	a, b := gateServer(t, edgeA, &hash), gateServer(t, edgeB, &hash)
	code := "/" + newCode(t, "pw")
	c := browser(t)
	for _, srv := range []*httptest.Server{a, b} {
		if r := basicGet(t, c, srv.URL+code, "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong: %d, want 401", r.status)
		}
	}
	if r := basicGet(t, c, a.URL+code, "wrong"); r.status != http.StatusTooManyRequests {
		t.Errorf("third wrong, at edge A: %d, want 429 (edge B's attempt counted)", r.status)
	}
	// The cookie edge A sets passes at edge B: they share the key.
	r := basicGet(t, browser(t), a.URL+"/"+newCode(t, "pw"), testLinkPassword)
	pass := findCookie(r.header, passCookieName)
	if pass == nil {
		t.Fatalf("right at edge A: %d, no cookie", r.status)
	}
	req, _ := http.NewRequest(http.MethodGet, b.URL+pass.Path, nil)
	req.AddCookie(&http.Cookie{Name: passCookieName, Value: pass.Value})
	if r = doReq(t, browser(t), req); r.status != http.StatusFound {
		t.Errorf("edge A's cookie at edge B: %d, want 302", r.status)
	}
}

// TestPasswordBusy: with every argon2 slot taken, a check waits briefly,
// then answers 503 with Retry-After; a free slot lets it through.
func TestPasswordBusy(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	h.pw.slots = make(chan struct{}, 1)
	h.pw.wait = 10 * time.Millisecond
	hash := testHash()
	srv := gateServer(t, h, &hash)
	u := srv.URL + "/busy1"

	h.pw.slots <- struct{}{}
	a := basicGet(t, browser(t), u, testLinkPassword)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("no slot: %d, Retry-After %q: want 503 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	problemField(t, a)
	if got := h.pw.attempts.busy.Load(); got != 1 {
		t.Errorf("attempts busy = %d, want 1", got)
	}
	<-h.pw.slots
	if a = basicGet(t, browser(t), u, testLinkPassword); a.status != http.StatusFound {
		t.Errorf("slot free: %d, want 302", a.status)
	}
	if len(h.pw.slots) != 0 {
		t.Errorf("%d slots still held after the checks", len(h.pw.slots))
	}
}

// TestPasswordJunkPosts: bodies that are not the form get a 4xx problem
// naming the field, never a panic and never a password check.
func TestPasswordJunkPosts(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	hash := testHash()
	srv := gateServer(t, h, &hash)
	u := srv.URL + "/junk1"
	tests := []struct {
		name, ct, body string
		status         int
		field          string
	}{
		{"JSON", "application/json", `{"password":"x"}`, http.StatusUnsupportedMediaType, "Content-Type"},
		{"no content type", "", "password=x", http.StatusUnsupportedMediaType, "Content-Type"},
		{"multipart", "multipart/form-data; boundary=x", "--x--", http.StatusUnsupportedMediaType, "Content-Type"},
		{"too large", "application/x-www-form-urlencoded", "password=" + strings.Repeat("a", maxFormBody), http.StatusRequestEntityTooLarge, "body"},
		{"bad escape", "application/x-www-form-urlencoded", "password=%zz&csrf=%", http.StatusBadRequest, "body"},
		{"no csrf", "application/x-www-form-urlencoded; charset=utf-8", "password=x", http.StatusForbidden, "csrf"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(tt.body))
		if tt.ct != "" {
			req.Header.Set("Content-Type", tt.ct)
		}
		a := doReq(t, browser(t), req)
		if a.status != tt.status || problemField(t, a) != tt.field {
			t.Errorf("%s: %d %q: want %d naming %s", tt.name, a.status, a.body, tt.status, tt.field)
		}
	}
	// An empty password is not checked: the form says to enter one.
	c := browser(t)
	token := formToken(t, getURL(t, c, u))
	if a := postForm(t, c, u, url.Values{"csrf": {token}}); a.status != http.StatusUnauthorized || !strings.Contains(a.body, msgNoPassword) {
		t.Errorf("no password: %d: want the form with %q", a.status, msgNoPassword)
	}
	if got := h.pw.attempts.ok.Load() + h.pw.attempts.wrong.Load(); got != 0 {
		t.Errorf("%d passwords checked, want none", got)
	}
}

// FuzzPasswordRequest sends arbitrary bodies, cookies and Authorization
// headers through the gate: it answers without panicking, with a status
// of its own, and never lets a request through.
func FuzzPasswordRequest(f *testing.F) {
	h := new(Handler)
	h.Database = "sqlite://" + f.TempDir() + "/links.db"
	h.LinkCookieKey = "fuzz-cookie-key-Zq8vT2mN4xK7pR1w"
	h.keySalt = "FuzzPasswordRequest"
	provision(f, h)
	hash := testHash()
	for _, s := range [][4]string{
		{"POST", "application/x-www-form-urlencoded", "csrf=AAAA&password=x", ""},
		{"POST", "application/x-www-form-urlencoded", "%", "shortify_csrf=" + newNonce()},
		{"GET", "", "", "shortify_pass=" + strings.Repeat("A", 54)},
		{"GET", "", "", "shortify_pass=;shortify_pass=x; shortify_csrf=\x00"},
		{"POST", "text/plain", "password=x", ""},
	} {
		f.Add(s[0] == "POST", s[1], s[2], s[3], "")
	}
	f.Add(false, "", "", "", "Basic Og==")
	f.Add(false, "", "", "", "Basic")
	f.Add(true, "application/x-www-form-urlencoded", "a=b", "", "basic !!")
	f.Fuzz(func(t *testing.T, post bool, ct, body, cookie, auth string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/fuzz1", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Cookie", cookie)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		if h.checkPassword(w, r, "fuzz1", hash) {
			t.Fatalf("%s %q cookie %q auth %q passed the gate", method, body, cookie, auth)
		}
		switch w.Code {
		case 200, 400, 401, 403, 413, 415, 429, 503:
		default:
			t.Fatalf("%s %q: status %d", method, body, w.Code)
		}
	})
}

// TestPasswordGateCompiled: passwordGate reads the hash from the link's
// compiled options, as the redirect path hands them over.
func TestPasswordGateCompiled(t *testing.T) {
	t.Parallel()
	h := passwordHandler(t, &Handler{})
	c, err := smartlink.Compile(testTarget, smartlink.Options{PasswordHash: testHash()})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/gate1", nil)
	w := httptest.NewRecorder()
	if h.passwordGate(w, r, site{}, "gate1", c) || w.Code != http.StatusOK {
		t.Fatalf("no credentials: %d, want the form", w.Code)
	}
	r = httptest.NewRequest(http.MethodGet, "/gate1", nil)
	r.SetBasicAuth("", testLinkPassword)
	w = httptest.NewRecorder()
	if !h.passwordGate(w, r, site{}, "gate1", c) {
		t.Fatalf("right Basic password: refused with %d", w.Code)
	}
	cookie := findCookie(w.Result().Header, passCookieName)
	r = httptest.NewRequest(http.MethodHead, "/gate1", nil)
	r.AddCookie(cookie)
	if !h.passwordGate(httptest.NewRecorder(), r, site{}, "gate1", c) {
		t.Error("HEAD with the cookie: refused")
	}
}
