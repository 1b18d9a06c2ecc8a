package caddymodule

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// The two signed values of a password-protected link (password.go), both
// HMAC-SHA256 under the edge's link_cookie_key, which every edge shares so
// that a cookie one edge set passes at every other:
//
//   - The access cookie (passCookieName): expiry | MAC("pass", link key,
//     password hash, expiry). The link key (domain/code) binds it to one
//     link even if a browser sent it for another path; the password's
//     hash, whose salt is new with every password, makes a changed
//     password void every cookie of the old one. Verifying it costs one
//     HMAC, never an argon2 check.
//   - The form's CSRF token: issued | MAC("csrf", link key, issued,
//     nonce), where the nonce is a random value the browser also holds in
//     a SameSite=Strict, HttpOnly cookie (csrfCookieName): double submit.
//     A page of another site can neither read the cookie nor make the
//     browser send it with a cross-site POST, so it cannot forge a token
//     that verifies; tokens expire after csrfLifetime.
//
// Every MAC input is length-prefixed and starts with its purpose, so that
// no value of one kind is ever a valid value of the other, whatever the
// link keys and hashes hold.

const (
	// passCookieName is the access cookie, one per link (Path=/{code}).
	passCookieName = "shortify_pass"
	// csrfCookieName holds the nonce of the form's CSRF token.
	csrfCookieName = "shortify_csrf"
	// csrfLifetime is how long a form may sit before it is submitted.
	csrfLifetime = time.Hour
	// clockSkew is how far in the future a token's time may be and still
	// pass: another edge, whose clock runs a little ahead, may have
	// issued it.
	clockSkew = time.Minute
	// nonceLen is the CSRF nonce's length in bytes.
	nonceLen = 16
	// signedLen is the length of both values before base64: an 8-byte
	// Unix time and a full HMAC-SHA256.
	signedLen = 8 + sha256.Size
)

// b64 is the encoding of cookie values and tokens: URL-safe, unpadded, so
// a value needs no quoting in a cookie or a form.
var b64 = base64.RawURLEncoding

// linkMAC returns the MAC of purpose and fields under key.
func linkMAC(key []byte, purpose string, t int64, fields ...string) []byte {
	m := hmac.New(sha256.New, key)
	var n [8]byte
	for _, f := range append([]string{purpose}, fields...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	binary.BigEndian.PutUint64(n[:], uint64(t))
	m.Write(n[:])
	return m.Sum(nil)
}

// signed is the base64 of t (Unix seconds) followed by mac.
func signed(t int64, mac []byte) string {
	var b [signedLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t))
	copy(b[8:], mac)
	return b64.EncodeToString(b[:])
}

// unsign splits a value of signed; ok is false for anything malformed.
func unsign(v string) (t int64, mac []byte, ok bool) {
	if len(v) != b64.EncodedLen(signedLen) {
		return 0, nil, false
	}
	b, err := b64.DecodeString(v)
	if err != nil || len(b) != signedLen {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(b[:8])), b[8:], true
}

// signPass returns the access cookie's value for link (its L1 key) with
// password hash hash, valid until expiry.
func signPass(key []byte, link, hash string, expiry time.Time) string {
	t := expiry.Unix()
	return signed(t, linkMAC(key, "pass", t, link, hash))
}

// verifyPass reports whether v is an access cookie for link with hash
// that has not expired at now.
func verifyPass(key []byte, link, hash, v string, now time.Time) bool {
	t, mac, ok := unsign(v)
	if !ok || now.Unix() >= t {
		return false
	}
	return hmac.Equal(mac, linkMAC(key, "pass", t, link, hash))
}

// newNonce returns a fresh CSRF nonce, as the cookie holds it.
func newNonce() string {
	var b [nonceLen]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return b64.EncodeToString(b[:])
}

// validNonce reports whether v is a nonce newNonce could have made, so
// that a browser's cookie is reused only when it is one.
func validNonce(v string) bool {
	if len(v) != b64.EncodedLen(nonceLen) {
		return false
	}
	_, err := b64.DecodeString(v)
	return err == nil
}

// signCSRF returns the form's token for link, issued at now, bound to
// nonce.
func signCSRF(key []byte, link, nonce string, now time.Time) string {
	t := now.Unix()
	return signed(t, linkMAC(key, "csrf", t, link, nonce))
}

// verifyCSRF reports whether token was issued for link and nonce by an
// edge with key, no longer than csrfLifetime before now.
func verifyCSRF(key []byte, link, nonce, token string, now time.Time) bool {
	if !validNonce(nonce) {
		return false
	}
	t, mac, ok := unsign(token)
	if !ok {
		return false
	}
	issued := time.Unix(t, 0)
	if now.Sub(issued) > csrfLifetime || issued.Sub(now) > clockSkew {
		return false
	}
	return hmac.Equal(mac, linkMAC(key, "csrf", t, link, nonce))
}

// linkCookieKey derives the edge's cookie key from a configured secret
// (link_cookie_key, else visitor_key, else the process's random key), so
// that the visitor hash and the cookies never share a key even when they
// come from one secret.
func linkCookieKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("shortify link cookie key v1"))
	return m.Sum(nil)
}
