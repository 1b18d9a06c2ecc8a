//go:build faults

package caddymodule

import (
	"testing"
	"time"
)

// TestFault12WarmStart is the warm-start fault over the first minute of
// the new edge's traffic, for `make faults`; `make test` runs it with a
// 10 s window (fault12_quick_test.go).
func TestFault12WarmStart(t *testing.T) {
	warmStartFault(t, time.Minute)
}
