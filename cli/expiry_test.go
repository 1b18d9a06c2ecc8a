package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 500, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"2026-12-31T23:59:00Z", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), ""},
		{"2026-12-31T23:59:00+02:00", time.Date(2026, 12, 31, 21, 59, 0, 0, time.UTC), ""},
		{"2026-12-31", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), ""},
		{"30d", time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC), ""},
		{" 12h ", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), ""},
		{"1w2d", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), ""},
		{"90m", time.Date(2026, 11, 20, 13, 30, 0, 0, time.UTC), ""},
		{"45s", time.Date(2026, 11, 20, 12, 0, 45, 0, time.UTC), ""},
		{"", time.Time{}, "empty"},
		{"soon", time.Time{}, "expected a number"},
		{"30", time.Time{}, "needs a unit"},
		{"3y", time.Time{}, `unknown unit "y"`},
		{"1.5d", time.Time{}, `unknown unit ".`},
		{"-1d", time.Time{}, "expected a number"},
		{"0d", time.Time{}, "must be after now"},
		{"36501d", time.Time{}, "at most 100 years"},
		{"99999999999999999999d", time.Time{}, "number"},
		{"36000d36000d", time.Time{}, "at most 100 years"},
		{"2026-13-01", time.Time{}, `unknown unit "-"`},
	} {
		got, err := ParseExpiry(tc.in, now)
		switch {
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseExpiry(%q) error %v; want one saying %q", tc.in, err, tc.err)
		}
	}
}

// FuzzParseExpiry: any input is a time after now or an error, never a
// panic or an overflow into the past.
func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"30d", "1w2d3h4m5s", "2026-12-31", "2026-12-31T23:59:00Z", "99999999999d", "0s", "d", "1dd"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiry(s, now)
		if err != nil {
			return
		}
		if _, rerr := parseRelative(strings.TrimSpace(s)); rerr == nil && (!got.After(now) || got.After(now.Add(maxRelative))) {
			t.Fatalf("ParseExpiry(%q) = %v: not within (now, now+100y]", s, got)
		}
	})
}
