package controlplane

import (
	"testing"
	"time"
)

func TestRetentionDays(t *testing.T) {
	const day = 24 * time.Hour
	for d, want := range map[time.Duration]int{
		0:                 1,
		time.Hour:         1,
		day:               1,
		day + time.Second: 2,
		400 * day:         400,
		200 * 365 * day:   36500,
	} {
		if got := retentionDays(d); got != want {
			t.Errorf("retentionDays(%v) = %d, want %d", d, got, want)
		}
	}
}
