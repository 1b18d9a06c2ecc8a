package main

import (
	"strings"
	"testing"
	"time"
)

// The flags and their LOADTEST_* defaults; bad values are refused with a
// message naming the setting.
func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(config) bool
	}{
		{name: "defaults", check: func(c config) bool {
			return c.start == startWarm && c.duration == 5*time.Minute && c.rate == 10_000 && c.links == 10_000_000
		}},
		{name: "cold from the environment", env: map[string]string{"LOADTEST_START": "cold", "LOADTEST_RATE": "1500"},
			check: func(c config) bool { return c.start == startCold && c.rate == 1500 }},
		{name: "flag over environment", env: map[string]string{"LOADTEST_START": "cold"}, args: []string{"-start", "warm"},
			check: func(c config) bool { return c.start == startWarm }},
		{name: "unknown start", args: []string{"-start", "hot"}, wantErr: `start "hot": warm or cold`},
		{name: "bad rate", env: map[string]string{"LOADTEST_RATE": "fast"}, wantErr: `LOADTEST_RATE="fast": not a whole number`},
		{name: "short duration", args: []string{"-duration", "5s"}, wantErr: "duration 5s: at least 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"LOADTEST_START", "LOADTEST_RATE", "LOADTEST_DURATION", "LOADTEST_LINKS", "LOADTEST_WARMUP"} {
				t.Setenv(k, tc.env[k])
			}
			c, err := parseConfig(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("config %+v, %v", c, err)
			}
		})
	}
}
