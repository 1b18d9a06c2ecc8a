// Package shortcode holds the rules for what may appear as a short code in
// a URL path: the cheap well-formedness check the edge runs before any
// lookup, and the stricter rules for custom aliases chosen by users.
package shortcode

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest code or alias accepted anywhere.
const MaxLen = 64

// MinAliasLen is the shortest custom alias accepted.
const MinAliasLen = 3

// Reserved lists words that are never accepted as aliases (compared without
// case), because they name routes of Shortify or are commonly expected by
// browsers and crawlers.
var Reserved = []string{
	"about", "admin", "api", "app", "assets", "dashboard", "docs", "health",
	"healthz", "help", "login", "logout", "metrics", "openapi", "qr", "ready",
	"readyz", "report", "reports", "shortify", "static", "stats", "status", "www",
}

var reserved = func() map[string]struct{} {
	m := make(map[string]struct{}, len(Reserved))
	for _, w := range Reserved {
		m[w] = struct{}{}
	}
	return m
}()

// ErrInvalidAlias is wrapped by every error of ValidateAlias.
var ErrInvalidAlias = errors.New("invalid alias")

// WellFormed reports whether s could be a code or alias at all:
// 1 to MaxLen characters of [A-Za-z0-9_-]. The edge answers anything else
// without touching a cache or a store.
func WellFormed(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !aliasChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidateAlias checks a custom alias: MinAliasLen to MaxLen characters of
// [A-Za-z0-9_-], not a reserved word. The error says what is wrong.
func ValidateAlias(s string) error {
	switch {
	case len(s) < MinAliasLen:
		return fmt.Errorf("%w: must be at least %d characters", ErrInvalidAlias, MinAliasLen)
	case len(s) > MaxLen:
		return fmt.Errorf("%w: must be at most %d characters", ErrInvalidAlias, MaxLen)
	}
	for i := 0; i < len(s); i++ {
		if !aliasChar(s[i]) {
			return fmt.Errorf("%w: character %q at position %d is not allowed (use A-Z, a-z, 0-9, '_' and '-')", ErrInvalidAlias, rune(s[i]), i+1)
		}
	}
	if IsReserved(s) {
		return fmt.Errorf("%w: %q is a reserved word", ErrInvalidAlias, s)
	}
	return nil
}

// IsReserved reports whether s is a reserved word in any case: a route of
// Shortify's (GET /report among them, which Caddy matches without case),
// never a code, generated ones included.
func IsReserved(s string) bool {
	_, ok := reserved[strings.ToLower(s)]
	return ok
}

func aliasChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-'
}
