package controlplane

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/shortify/shortify/controlplane/clicktotals"
)

// TestClickTotalsInterval: click_totals_interval takes a positive
// duration, or 0 or off for none; absent, the job runs every 30 s.
func TestClickTotalsInterval(t *testing.T) {
	for _, tt := range []struct {
		option string
		want   time.Duration
	}{
		{"", clicktotals.DefaultInterval},
		{"click_totals_interval 5s", 5 * time.Second},
		{"click_totals_interval off", 0},
		{"click_totals_interval 0", 0},
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n" + tt.option + "\n}")); err != nil {
			t.Fatalf("%q: %v", tt.option, err)
		}
		if got := a.clickTotalsInterval(); got != tt.want {
			t.Errorf("%q: interval %s, want %s", tt.option, got, tt.want)
		}
	}
	for _, bad := range []string{"click_totals_interval -1s", "click_totals_interval soon", "click_totals_interval 1m 2m"} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n" + bad + "\n}")); err == nil || !strings.Contains(err.Error(), "click_totals_interval") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}
