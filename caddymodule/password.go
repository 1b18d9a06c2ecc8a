package caddymodule

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/ratelimit"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/tracing"
)

// Password-protected links (issue 16; docs/security.md, "Password-protected
// links"). A visitor gets in by one of three ways, cheapest first:
//
//  1. the link's access cookie (password_token.go): one HMAC;
//  2. HTTP Basic (Authorization: Basic base64(any-user:password)), for
//     scripts: a wrong one answers 401 with a Basic challenge, which only
//     a request that sent Basic ever sees, so that browsers get the form
//     and never a dialog;
//  3. the form (password_page.go), which POSTs the password and a CSRF
//     token back to the link's own URL.
//
// A password is checked with argon2id (about 20-40 ms and 19 MiB), so a
// check is guarded twice: by the client's attempts on that link
// (password_attempts; shared in Redis when the edge has one), and by the
// process's argon2 slots (one per CPU), which a flood cannot exceed: past
// them a check waits briefly, then answers 503 with Retry-After. A right
// password gives its attempt back (only wrong ones spend the budget, so
// a script sending the right password with every request is never
// refused) and sets the access cookie, so that the next visit costs no
// argon2 check at all.

// Bounds of a POST of the form.
const (
	// maxFormBody is the largest form body read: a password of
	// smartlink.MaxPassword bytes, percent-encoded, and the token fit.
	maxFormBody = 4 << 10
	// maxCookiesTried bounds how many cookies of one name are tried: a
	// browser sends one per matching path, and a client could send many.
	maxCookiesTried = 4
)

// basicRealm is the challenge of a wrong Basic password.
var basicRealm = []string{`Basic realm="shortify link"`}

// passwordGate decides a request for a password-protected link (key is
// its L1 key, c its options). It reports whether the request may go on to
// the redirect: a valid cookie for the link, or the right password in an
// HTTP Basic header or the form's POST. When it reports false it has
// answered: the form (200), the form again after a wrong password (401),
// or 429 with Retry-After when the client spent its attempts; also 401
// with a Basic challenge for a wrong Basic password, 403 for a POST
// without a valid CSRF token, 503 with Retry-After when no argon2 slot
// freed up, and 400, 413 or 415 problems for what is not the form. It
// keeps no reference to key, which may alias the caller's stack buffer
// (stackKey).
func (h *Handler) passwordGate(w http.ResponseWriter, r *http.Request, st site, key string, c smartlink.Compiled) bool {
	return h.checkPassword(w, r, key, c.PasswordHash())
}

// checkPassword is passwordGate for a link whose password hash is hash.
func (h *Handler) checkPassword(w http.ResponseWriter, r *http.Request, key, hash string) bool {
	now := time.Unix(0, h.nowNano())
	if h.hasPassCookie(r, key, hash, now) {
		return true
	}
	if auth := r.Header.Get("Authorization"); len(auth) >= 6 && strings.EqualFold(auth[:6], "basic ") {
		_, pw, ok := r.BasicAuth()
		if !ok {
			problem.WriteField(w, http.StatusBadRequest, "Authorization", "want Basic base64(user:password)")
			return false
		}
		return h.tryPassword(w, r, key, hash, pw, true, now)
	}
	if r.Method == http.MethodPost {
		return h.postPassword(w, r, key, hash, now)
	}
	h.showForm(w, r, key, now, http.StatusOK, "")
	return false
}

// hasPassCookie reports whether r carries a valid access cookie for the
// link.
func (h *Handler) hasPassCookie(r *http.Request, key, hash string, now time.Time) bool {
	for i, c := range r.CookiesNamed(passCookieName) {
		if i >= maxCookiesTried {
			break
		}
		if verifyPass(h.pw.key, key, hash, c.Value, now) {
			return true
		}
	}
	return false
}

// postPassword reads the form's POST: its CSRF token, then the password.
func (h *Handler) postPassword(w http.ResponseWriter, r *http.Request, key, hash string, now time.Time) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		problem.WriteField(w, http.StatusUnsupportedMediaType, "Content-Type", "want application/x-www-form-urlencoded, as the form sends")
		return false
	}
	form, err := readForm(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.WriteField(w, http.StatusRequestEntityTooLarge, "body", "the form is larger than 4 KiB")
		} else {
			problem.WriteField(w, http.StatusBadRequest, "body", "not a URL-encoded form")
		}
		return false
	}
	if !verifyCSRF(h.pw.key, key, csrfNonce(r), form.Get("csrf"), now) {
		h.pw.attempts.csrf.Inc()
		problem.WriteField(w, http.StatusForbidden, "csrf", "the form's token is missing, expired or not this link's (or cookies are off): load the link again")
		return false
	}
	pw := form.Get("password")
	if pw == "" {
		h.showForm(w, r, key, now, http.StatusUnauthorized, msgNoPassword)
		return false
	}
	return h.tryPassword(w, r, key, hash, pw, false, now)
}

// readForm reads a form body of at most maxFormBody bytes.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Body == nil {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(b))
}

// tryPassword spends one of the client's attempts on the link and checks
// pw; basic says it came in an Authorization header (else the form).
func (h *Handler) tryPassword(w http.ResponseWriter, r *http.Request, key, hash, pw string, basic bool, now time.Time) bool {
	p := h.pw
	client := p.clients.clientKey(r) + "|" + key
	lim, d := h.passwordAllow(r.Context(), client)
	if !d.Allowed {
		h.tooMany(w, r, d, p.limit, p.attempts.limited)
		return false
	}
	if !p.acquire(r.Context()) {
		p.attempts.busy.Inc()
		w.Header()["Retry-After"] = retryAfterBusy
		problem.Write(w, http.StatusServiceUnavailable, "too many password checks at once on this edge; retry after the time in Retry-After")
		return false
	}
	ok := smartlink.CheckPassword(hash, pw)
	p.release()
	if !ok {
		p.attempts.wrong.Inc()
		d.WriteHeaders(w.Header(), p.limit) // how many guesses are left
		if basic {
			w.Header()["Www-Authenticate"] = basicRealm
			problem.Write(w, http.StatusUnauthorized, "wrong password for this link")
		} else {
			h.showForm(w, r, key, now, http.StatusUnauthorized, msgWrongPassword)
		}
		return false
	}
	p.attempts.ok.Inc()
	// Only wrong passwords spend the budget. A failed refund only means
	// one attempt fewer until the bucket refills.
	_ = lim.Refund(context.WithoutCancel(r.Context()), client)
	http.SetCookie(w, &http.Cookie{
		Name:     passCookieName,
		Value:    signPass(p.key, key, hash, now.Add(p.lifetime)),
		Path:     r.URL.Path,
		MaxAge:   int(p.lifetime / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return true
}

// passwordAllow counts an attempt of client (client|link) and returns the
// limiter that decided, for the refund. A shared limiter that fails hands
// the decision to this edge's, as the redirect limit does (ratelimit.go).
func (h *Handler) passwordAllow(ctx context.Context, client string) (ratelimit.Refunder, ratelimit.Decision) {
	p := h.pw
	if p.shared != nil {
		d, err := p.shared.Allow(ctx, client)
		if err == nil {
			return p.shared, d
		}
		h.stats.rateLimitErrors.Inc()
		if ce := h.l2log.Check(zap.WarnLevel, "shared password_attempts limit unavailable; limiting on this edge alone"); ce != nil {
			ce.Write(zap.Error(err), tracing.ZapField(ctx))
		}
	}
	d, _ := p.local.Allow(ctx, client)
	return p.local, d
}

// retryAfterBusy is the Retry-After of a check refused for want of an
// argon2 slot: by then the checks ahead of it are long done.
var retryAfterBusy = []string{"1"}
