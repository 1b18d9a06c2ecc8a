package kafkagroup

import (
	"strings"
	"testing"
	"time"
)

func TestCheckSessionTimeout(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		fail bool
	}{
		{5 * time.Second, true},
		{MinSessionTimeout, false},
		{45 * time.Second, false},
		{MaxTimeout, false},
		{MaxTimeout + time.Second, true},
	} {
		err := CheckSessionTimeout("app", tc.d)
		if (err != nil) != tc.fail {
			t.Errorf("%v: err = %v, want failure %v", tc.d, err, tc.fail)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "app: session_timeout "+tc.d.String()) {
			t.Errorf("%v: message %q does not name the app and value", tc.d, err)
		}
	}
}
