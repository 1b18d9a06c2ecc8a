package ratelimit

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLimitValidate(t *testing.T) {
	t.Parallel()
	for _, l := range []Limit{
		{Rate: 10, Burst: 20},
		{Rate: 1.0 / 3600, Burst: 1, Name: "hourly"},
		{Rate: 1e6, Burst: 1},
		{Rate: 1, Burst: 1, Name: `a "quoted" \ name`},
	} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	for _, tc := range []struct {
		l      Limit
		errHas string
	}{
		{Limit{Rate: 0, Burst: 1}, "not a positive number"},
		{Limit{Rate: -1, Burst: 1}, "not a positive number"},
		{Limit{Rate: math.NaN(), Burst: 1}, "not a positive number"},
		{Limit{Rate: math.Inf(1), Burst: 1}, "not a positive number"},
		{Limit{Rate: 2e6, Burst: 1}, "above a million"},
		{Limit{Rate: 1, Burst: 0}, "burst 0 is below 1"},
		{Limit{Rate: 1e-9, Burst: 1}, "longer than"},
		{Limit{Rate: 1, Burst: math.MaxInt}, "longer than"},
		{Limit{Rate: 1, Burst: 1, Name: "naïve"}, "not printable ASCII"},
		{Limit{Rate: 1, Burst: 1, Name: "a\nb"}, "not printable ASCII"},
	} {
		err := tc.l.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%+v: err = %v, want one containing %q", tc.l, err, tc.errHas)
		}
	}
}

func TestLimitInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{
		{10, 100 * time.Millisecond},
		{3, 333333 * time.Microsecond},
		{1.0 / 60, time.Minute},
		{1e6, time.Microsecond},
	} {
		if got := (Limit{Rate: tc.rate, Burst: 1}).interval(); got != tc.want {
			t.Errorf("interval at %v/s = %v, want %v", tc.rate, got, tc.want)
		}
	}
}

func TestWriteHeaders(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	for _, tc := range []struct {
		name       string
		l          Limit
		d          Decision
		policy     string
		ratelimit  string
		retryAfter string
	}{
		{
			name:      "allowed, from a full bucket",
			l:         Limit{Rate: 10, Burst: 5},
			d:         Decision{Allowed: true, Remaining: 4, Reset: 100 * ms},
			policy:    `"default";q=5;w=1`,
			ratelimit: `"default";r=4;t=1`,
		},
		{
			name:       "refused",
			l:          Limit{Rate: 10, Burst: 5},
			d:          Decision{RetryAfter: 100 * ms, Reset: 100 * ms},
			policy:     `"default";q=5;w=1`,
			ratelimit:  `"default";r=0;t=1`,
			retryAfter: "1",
		},
		{
			name:      "window rounded up",
			l:         Limit{Rate: 10, Burst: 25, Name: "redirect"},
			d:         Decision{Allowed: true, Remaining: 0, Reset: 1500 * ms},
			policy:    `"redirect";q=25;w=3`,
			ratelimit: `"redirect";r=0;t=2`,
		},
		{
			name:       "one a minute",
			l:          Limit{Rate: 1.0 / 60, Burst: 10, Name: "anonymous-create"},
			d:          Decision{RetryAfter: 59*time.Second + 1, Reset: 59*time.Second + 1},
			policy:     `"anonymous-create";q=10;w=600`,
			ratelimit:  `"anonymous-create";r=0;t=60`,
			retryAfter: "60",
		},
		{
			name:       "a microsecond still means a second",
			l:          Limit{Rate: 10, Burst: 5},
			d:          Decision{RetryAfter: time.Microsecond, Reset: time.Microsecond},
			policy:     `"default";q=5;w=1`,
			ratelimit:  `"default";r=0;t=1`,
			retryAfter: "1",
		},
		{
			name:      "full bucket",
			l:         Limit{Rate: 100, Burst: 200},
			d:         Decision{Allowed: true, Remaining: 200},
			policy:    `"default";q=200;w=2`,
			ratelimit: `"default";r=200;t=0`,
		},
		{
			name:      "name escaped",
			l:         Limit{Rate: 1, Burst: 1, Name: `a"b\c`},
			d:         Decision{Allowed: true, Reset: time.Second},
			policy:    `"a\"b\\c";q=1;w=1`,
			ratelimit: `"a\"b\\c";r=0;t=1`,
		},
		{
			name:      "bad name replaced",
			l:         Limit{Rate: 1, Burst: 1, Name: "a\r\nX-Injected: 1"},
			d:         Decision{Allowed: true, Reset: time.Second},
			policy:    `"default";q=1;w=1`,
			ratelimit: `"default";r=0;t=1`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			tc.d.WriteHeaders(h, tc.l)
			if got := h.Get("RateLimit-Policy"); got != tc.policy {
				t.Errorf("RateLimit-Policy = %s, want %s", got, tc.policy)
			}
			if got := h.Get("RateLimit"); got != tc.ratelimit {
				t.Errorf("RateLimit = %s, want %s", got, tc.ratelimit)
			}
			if got := h.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if len(h) != 2+len(tc.retryAfter)/max(len(tc.retryAfter), 1) {
				t.Errorf("unexpected fields: %v", h)
			}
		})
	}
}

// The headers of a real sequence of decisions, end to end.
func TestWriteHeadersFromLimiter(t *testing.T) {
	t.Parallel()
	l := Limit{Rate: 2, Burst: 3, Name: "edge"}
	lim := newTestLocal(t, l, newFakeClock())
	var got []string
	for range 4 {
		h := http.Header{}
		allow(t, lim, "k").WriteHeaders(h, l)
		got = append(got, h.Get("RateLimit")+" | "+h.Get("Retry-After"))
	}
	want := []string{`"edge";r=2;t=1 | `, `"edge";r=1;t=1 | `, `"edge";r=0;t=1 | `, `"edge";r=0;t=1 | 1`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	const T, W = 100 * time.Millisecond, 500 * time.Millisecond
	for _, tc := range []struct {
		allowed bool
		ahead   time.Duration
		want    Decision
	}{
		{true, T, Decision{Allowed: true, Remaining: 4, Reset: T}},
		{true, W, Decision{Allowed: true, Remaining: 0, Reset: T}},
		{true, 250 * time.Millisecond, Decision{Allowed: true, Remaining: 2, Reset: 50 * time.Millisecond}},
		{false, W, Decision{RetryAfter: T, Reset: T}},
		{false, 450 * time.Millisecond, Decision{RetryAfter: 50 * time.Millisecond, Reset: 50 * time.Millisecond}},
		// The clock went back past TAT's window: still a sane answer.
		{false, 2 * W, Decision{RetryAfter: W + T, Reset: W + T}},
	} {
		if got := decide(tc.allowed, tc.ahead, T, W); got != tc.want {
			t.Errorf("decide(%v, %v) = %+v, want %+v", tc.allowed, tc.ahead, got, tc.want)
		}
	}
}
