// Package signature signs and verifies webhook messages the Standard
// Webhooks way (https://www.standardwebhooks.com): three headers,
//
//	webhook-id:        the message's ID, the same on every retry
//	webhook-timestamp: when this attempt was signed, Unix seconds
//	webhook-signature: "v1," and the base64 of HMAC-SHA256 over
//	                   "<id>.<timestamp>.<body>"
//
// keyed with the endpoint secret's bytes: the base64 after "whsec_". The
// signature header may hold several space-separated signatures (a secret
// being rotated); a message verifies when any "v1" one matches.
//
// It is a package of its own, with no dependency but the standard
// library, so that a receiver written in Go can import Verify alone.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every endpoint secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock, either way, before Verify refuses it: the spec's
// suggestion, which bounds how long a captured message can be replayed.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify and Key; test for them with errors.Is.
var (
	// ErrSecret means the secret is not "whsec_" and base64.
	ErrSecret = errors.New("signature: malformed secret")
	// ErrHeaders means a header is missing or malformed.
	ErrHeaders = errors.New("signature: missing or malformed webhook headers")
	// ErrTimestamp means the timestamp is outside the tolerance.
	ErrTimestamp = errors.New("signature: timestamp outside the tolerance")
	// ErrMismatch means no signature matches the message.
	ErrMismatch = errors.New("signature: no matching signature")
)

// Key returns the HMAC key of secret: the bytes its base64 encodes
// after the "whsec_" prefix (the prefix is optional, as in the spec's
// libraries).
func Key(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: %v", ErrSecret, err)
	}
	return b, nil
}

// Sign returns the webhook-signature value of the message: "v1," and
// the base64 of its HMAC-SHA256 under key.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp, 10), body))
}

// SetHeaders sets the three headers on h for the message sent at now.
func SetHeaders(h http.Header, key []byte, id string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(key, id, ts, body))
}

// Verify checks the message of h and body against secret at now, with
// DefaultTolerance; it returns the message's webhook-id, by which a
// receiver deduplicates.
func Verify(secret string, h http.Header, body []byte, now time.Time) (string, error) {
	return VerifyWithin(secret, h, body, now, DefaultTolerance)
}

// VerifyWithin is Verify with a tolerance of its own (0 or less: the
// timestamp is not checked, for tests and replays of stored messages).
func VerifyWithin(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) (string, error) {
	key, err := Key(secret)
	if err != nil {
		return "", err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return "", fmt.Errorf("%w: %s, %s and %s are required", ErrHeaders, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q is not Unix seconds", ErrHeaders, HeaderTimestamp, ts)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return "", fmt.Errorf("%w: %s is %v from now", ErrTimestamp, HeaderTimestamp, d.Round(time.Second))
		}
	}
	want := mac(key, id, ts, body)
	for s := range strings.FieldsSeq(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue // another scheme (v1a: asymmetric) or garbage
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return id, nil
		}
	}
	return "", ErrMismatch
}

// mac is HMAC-SHA256 over "id.timestamp.body".
func mac(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
