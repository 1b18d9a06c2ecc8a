//go:build !faults

package caddymodule

import (
	"testing"
	"time"
)

// TestFault12WarmStart is the warm-start fault with a 10 s window, for
// `make test`; `make faults` runs it with the minute
// (fault12_minute_test.go).
func TestFault12WarmStart(t *testing.T) {
	warmStartFault(t, 10*time.Second)
}
