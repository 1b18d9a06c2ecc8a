package caddymodule

import (
	"strings"
	"testing"
	"time"
)

// TestPassCookie: the access cookie passes for its link, password and
// time only.
func TestPassCookie(t *testing.T) {
	t.Parallel()
	key, other := linkCookieKey([]byte("k1")), linkCookieKey([]byte("k2"))
	now := time.Unix(1_800_000_000, 0)
	const link, hash = "abc123", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
	good := signPass(key, link, hash, now.Add(time.Hour))
	tampered := []byte(good)
	tampered[len(tampered)-3] ^= 1
	if tampered[len(tampered)-3] == good[len(good)-3] {
		t.Fatal("tamper did not change the value")
	}
	tests := []struct {
		name       string
		key        []byte
		link, hash string
		value      string
		at         time.Time
		want       bool
	}{
		{"valid", key, link, hash, good, now, true},
		{"valid just before expiry", key, link, hash, good, now.Add(time.Hour - time.Second), true},
		{"expired", key, link, hash, good, now.Add(time.Hour), false},
		{"other link", key, "abc124", hash, good, now, false},
		{"same code on a custom domain", key, "go.example.com/" + link, hash, good, now, false},
		{"other password", key, link, hash[:len(hash)-1] + "B", good, now, false},
		{"other key", other, link, hash, good, now, false},
		{"tampered MAC", key, link, hash, string(tampered), now, false},
		{"later expiry with the old MAC", key, link, hash, signed(now.Add(48*time.Hour).Unix(), mustUnsignMAC(t, good)), now, false},
		{"empty", key, link, hash, "", now, false},
		{"not base64", key, link, hash, strings.Repeat("!", len(good)), now, false},
		{"short", key, link, hash, good[:len(good)-1], now, false},
		{"a CSRF token is not a cookie", key, link, hash, signCSRF(key, link, hash, now), now, false},
	}
	for _, tt := range tests {
		if got := verifyPass(tt.key, tt.link, tt.hash, tt.value, tt.at); got != tt.want {
			t.Errorf("%s: verifyPass = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func mustUnsignMAC(t *testing.T, v string) []byte {
	t.Helper()
	_, mac, ok := unsign(v)
	if !ok {
		t.Fatalf("unsign %q failed", v)
	}
	return mac
}

// TestCSRFToken: a token passes with its link and nonce within its hour,
// and never otherwise.
func TestCSRFToken(t *testing.T) {
	t.Parallel()
	key, other := linkCookieKey([]byte("k1")), linkCookieKey([]byte("k2"))
	now := time.Unix(1_800_000_000, 0)
	const link = "abc123"
	nonce, nonce2 := newNonce(), newNonce()
	good := signCSRF(key, link, nonce, now)
	tests := []struct {
		name               string
		key                []byte
		link, nonce, token string
		at                 time.Time
		want               bool
	}{
		{"valid", key, link, nonce, good, now, true},
		{"valid after 59m", key, link, nonce, good, now.Add(59 * time.Minute), true},
		{"expired after 1h", key, link, nonce, good, now.Add(csrfLifetime + time.Second), false},
		{"issued slightly ahead (another edge's clock)", key, link, nonce, good, now.Add(-30 * time.Second), true},
		{"issued far ahead", key, link, nonce, good, now.Add(-2 * clockSkew), false},
		{"other link", key, "abc124", nonce, good, now, false},
		{"other nonce (another browser's token)", key, link, nonce2, good, now, false},
		{"no nonce cookie", key, link, "", good, now, false},
		{"malformed nonce", key, link, "x", good, now, false},
		{"other key", other, link, nonce, good, now, false},
		{"no token", key, link, nonce, "", now, false},
		{"junk token", key, link, nonce, strings.Repeat("A", len(good)), now, false},
		{"an access cookie is not a token", key, link, nonce, signPass(key, link, nonce, now.Add(time.Minute)), now, false},
	}
	for _, tt := range tests {
		if got := verifyCSRF(tt.key, tt.link, tt.nonce, tt.token, tt.at); got != tt.want {
			t.Errorf("%s: verifyCSRF = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !validNonce(nonce) || nonce == nonce2 {
		t.Errorf("nonces %q, %q: want two different valid ones", nonce, nonce2)
	}
}

// TestLinkCookieKeySeparated: the cookie key derived from the visitor key
// is not the visitor key, and depends on it.
func TestLinkCookieKeySeparated(t *testing.T) {
	t.Parallel()
	a, b := linkCookieKey([]byte("visitor-key-a")), linkCookieKey([]byte("visitor-key-b"))
	if string(a) == "visitor-key-a" || string(a) == string(b) || len(a) != 32 {
		t.Errorf("derived keys %x, %x: want distinct 32-byte keys", a, b)
	}
}

// FuzzPasswordValues: any cookie value or token is refused or accepted
// without a panic, and junk is never accepted.
func FuzzPasswordValues(f *testing.F) {
	key := linkCookieKey([]byte("fuzz"))
	now := time.Unix(1_800_000_000, 0)
	f.Add(signPass(key, "abc", "h", now.Add(time.Hour)), "abc")
	f.Add(signCSRF(key, "abc", newNonce(), now), "abc")
	f.Add("", "")
	f.Add("AAAA", "x/y")
	f.Fuzz(func(t *testing.T, v, nonce string) {
		if verifyPass(key, "abc", "h", v, now) && v != signPass(key, "abc", "h", time.Unix(mustUnsignTime(v), 0)) {
			t.Fatalf("verifyPass accepted %q, which signPass does not make", v)
		}
		_ = verifyCSRF(key, "abc", nonce, v, now)
		_ = validNonce(nonce)
	})
}

func mustUnsignTime(v string) int64 {
	t, _, _ := unsign(v)
	return t
}
