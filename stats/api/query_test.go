package api_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/stats/api"
)

// TestQueryRange: dates are whole days, inclusive at both ends; times are
// instants rounded out to buckets; from alone ends with the bucket that
// holds now, never in the future. now is 2026-11-20 15:30 UTC.
func TestQueryRange(t *testing.T) {
	d := func(day, hour int) time.Time { return at(day, hour) }
	tests := []struct {
		query    string
		from, to time.Time
	}{
		// One day, today: from=to is that day (it was a 400).
		{"from=2026-11-20&to=2026-11-20", d(20, 0), d(21, 0)},
		{"from=2026-11-18&to=2026-11-20", d(18, 0), d(21, 0)},
		{"granularity=hour&from=2026-11-19&to=2026-11-19", d(19, 0), d(20, 0)},
		// A date in to includes the day; a time in to ends there.
		{"granularity=hour&from=2026-11-20T09:00:00Z&to=2026-11-20T11:00:00Z", d(20, 9), d(20, 11)},
		{"granularity=hour&from=2026-11-20T10:20:00Z&to=2026-11-20T13:30:00Z", d(20, 10), d(20, 14)},
		{"from=2026-11-19T10:00:00Z&to=2026-11-20T00:00:00Z", d(19, 0), d(20, 0)},
		// from alone ends today (by day) or this hour (by hour).
		{"from=2026-11-18", d(18, 0), d(21, 0)},
		{"from=2026-11-20", d(20, 0), d(21, 0)},
		{"granularity=hour&from=2026-11-20", d(20, 0), d(20, 16)},
		{"granularity=hour&from=2026-11-20T15:59:00Z", d(20, 15), d(20, 16)},
		// to alone: the default span before it.
		{"to=2026-11-20", d(21, 0).AddDate(0, 0, -30), d(21, 0)},
		{"granularity=hour&to=2026-11-19", d(19, 0), d(20, 0)},
		{"to=1970-01-02", time.Unix(0, 0).UTC(), time.Date(1970, 1, 3, 0, 0, 0, 0, time.UTC)},
		// Neither: the default span, ending with the bucket of now.
		{"", d(21, 0).AddDate(0, 0, -30), d(21, 0)},
		{"granularity=hour", d(19, 16), d(20, 16)},
	}
	for _, tt := range tests {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		q, perr := api.ParseQuery(v, now)
		if perr != nil {
			t.Errorf("%q: %v", tt.query, perr)
			continue
		}
		if !q.From.Equal(tt.from) || !q.To.Equal(tt.to) {
			t.Errorf("%q: [%s, %s), want [%s, %s)", tt.query,
				q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), tt.from.Format(time.RFC3339), tt.to.Format(time.RFC3339))
		}
	}
}

// TestQueryRangeErrors: each refusal names the parameter to change, and
// its hint fits the query.
func TestQueryRangeErrors(t *testing.T) {
	tests := []struct {
		query, param string
		has          []string
		hasNot       []string
	}{
		{"from=2026-11-20&to=2026-11-19", "to", []string{"to 2026-11-19 is not after from 2026-11-20", "includes that whole day"}, nil},
		{"granularity=hour&from=2026-11-20T12:00:00Z&to=2026-11-20T12:00:00Z", "to", []string{"empty"}, nil},
		{"from=2026-11-21", "from", []string{"after now", "give to as well"}, nil},
		{"granularity=hour&from=2026-11-20T16:00:00Z", "from", []string{"after now"}, nil},
		{"from=2020-01-01&to=2026-01-01", "from", []string{"2193 day buckets", "shorter range"}, []string{"granularity=day", "from alone"}},
		{"granularity=hour&from=2026-01-01&to=2026-11-01", "from", []string{"hour buckets", "granularity=day"}, []string{"from alone"}},
		{"granularity=hour&from=2026-01-01", "from", []string{"granularity=day", "from alone ends now"}, nil},
		{"to=2026-13-01", "to", []string{"RFC 3339"}, nil},
		{"from=yesterday", "from", []string{"RFC 3339"}, nil},
	}
	for _, tt := range tests {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := api.ParseQuery(v, now)
		if perr == nil {
			t.Errorf("%q: accepted", tt.query)
			continue
		}
		if perr.Param != tt.param {
			t.Errorf("%q: names %q, want %q (%s)", tt.query, perr.Param, tt.param, perr.Msg)
		}
		for _, s := range tt.has {
			if !strings.Contains(perr.Msg, s) {
				t.Errorf("%q: %q does not say %q", tt.query, perr.Msg, s)
			}
		}
		for _, s := range tt.hasNot {
			if strings.Contains(perr.Msg, s) {
				t.Errorf("%q: %q says %q, which does not fit", tt.query, perr.Msg, s)
			}
		}
	}
}
