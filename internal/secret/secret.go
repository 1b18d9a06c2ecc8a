// Package secret resolves and checks the secrets an operator configures
// (API keys, the visitor-hash key, Kafka and database passwords): a value
// may be a Caddy placeholder such as {env.SHORTIFY_VISITOR_KEY} or
// {file./run/secrets/key}, expanded when the module is provisioned so that
// the adapted config (and Caddy's /config/ endpoint) holds the placeholder,
// never the secret; and a secret that is a shipped placeholder, a known
// default or too easy to guess is refused, so that a node never starts on
// one.
package secret

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// MinLen is the shortest secret Check accepts.
const MinLen = 16

// minEntropyBits is the least estimated entropy Check accepts: the
// character-class estimate of 16 random Base64 characters is about 96 bits,
// of a 16-character word or repeated pattern far less.
const minEntropyBits = 64

// ErrWeak is wrapped by every refusal of Check.
var ErrWeak = errors.New("secret refused")

// knownMarkers are words that only ever appear in placeholders and
// defaults shipped in examples (deploy/, docs), never in a real secret.
var knownMarkers = []string{
	"change-me", "changeme", "change_me", "replace-me", "replaceme",
	"placeholder", "example", "dev-password", "password", "secret",
	"your-", "xxxxxxxx", "todo",
}

// Resolve expands Caddy placeholders ({env.NAME}, {file.PATH}) in v.
// Unknown placeholders are left as written, so that Check refuses them
// instead of a node starting with "{env.TYPO}" as its secret.
func Resolve(v string) string {
	if !strings.Contains(v, "{") {
		return v
	}
	return strings.TrimSpace(caddy.NewReplacer().ReplaceKnown(v, ""))
}

// Check refuses a secret named name (as the config spells it, for the
// message) that is still a placeholder, a shipped default, shorter than
// MinLen or of too little entropy. An empty value is not checked: whether
// a setting is required is the caller's decision.
func Check(name, v string) error {
	if v == "" {
		return nil
	}
	if strings.Contains(v, "{") && strings.Contains(v, "}") {
		return fmt.Errorf("%w: %s is the unexpanded placeholder %q: set the variable it names", ErrWeak, name, v)
	}
	lower := strings.ToLower(v)
	for _, m := range knownMarkers {
		if strings.Contains(lower, m) {
			return fmt.Errorf("%w: %s looks like a shipped placeholder (it contains %q): generate one, for example with `head -c 32 /dev/urandom | base64`", ErrWeak, name, m)
		}
	}
	if len(v) < MinLen {
		return fmt.Errorf("%w: %s is %d characters, at least %d required", ErrWeak, name, len(v), MinLen)
	}
	if bits := EntropyBits(v); bits < minEntropyBits {
		return fmt.Errorf("%w: %s is too easy to guess (about %.0f bits, at least %d required): generate one, for example with `head -c 32 /dev/urandom | base64`", ErrWeak, name, bits, minEntropyBits)
	}
	return nil
}

// EntropyBits estimates the entropy of v: its length times the log2 of
// the alphabet its character classes span, scaled down by how much of v
// repeats (distinct characters over length). It is a cheap guard against
// words, repeated characters and short patterns, not a strength meter.
func EntropyBits(v string) float64 {
	var lower, upper, digit, other bool
	distinct := make(map[rune]struct{}, len(v))
	n := 0
	for _, r := range v {
		n++
		distinct[r] = struct{}{}
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	if n == 0 {
		return 0
	}
	alphabet := 0
	for _, c := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 32}} {
		if c.on {
			alphabet += c.size
		}
	}
	variety := math.Min(1, float64(len(distinct))/math.Min(float64(n), float64(alphabet))*1.25)
	return float64(n) * math.Log2(float64(alphabet)) * variety
}
