package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxRelative bounds a relative expiry, so that a typo of many digits
// is an error rather than an overflow.
const maxRelative = 100 * 365 * 24 * time.Hour

// relativeUnits are the units of a relative time: Go's and days and
// weeks, which people say of expiries.
var relativeUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// ParseExpiry reads an --expires value: an RFC 3339 time
// ("2026-12-31T23:59:00Z"), a UTC date ("2026-12-31", its midnight), or
// a time from now ("30d", "12h", "1w2d", "90m"; units s, m, h, d, w).
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty: give an RFC 3339 time, a date or a duration such as 30d")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseRelative(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is no RFC 3339 time, date (2026-12-31) or duration (30d, 12h, 1w2d): %w", s, err)
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}

// parseRelative reads a positive duration of <number><unit> parts.
func parseRelative(s string) (time.Duration, error) {
	var total time.Duration
	for rest := s; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		switch {
		case i < 0:
			return 0, errors.New("the number needs a unit (s, m, h, d or w)")
		case i == 0:
			return 0, errors.New("expected a number followed by a unit")
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("number %q: %w", rest[:i], err)
		}
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' })
		if j < 0 {
			j = len(rest)
		}
		unit, ok := relativeUnits[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q (use s, m, h, d or w)", rest[:j])
		}
		rest = rest[j:]
		if n > int64(maxRelative/unit) {
			return 0, errors.New("too far ahead (at most 100 years)")
		}
		total += time.Duration(n) * unit
		if total > maxRelative {
			return 0, errors.New("too far ahead (at most 100 years)")
		}
	}
	if total <= 0 {
		return 0, errors.New("must be after now")
	}
	return total, nil
}
