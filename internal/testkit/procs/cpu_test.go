package procs

import (
	"math"
	"os"
	"strings"
	"testing"
)

// TestCPUTimeGrows: this process's CPU time grows while it works, and the
// load average has its three fields.
func TestCPUTimeGrows(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0.0
	for after := before; after == before; {
		for i := range 1_000_000 {
			x += math.Sqrt(float64(i))
		}
		if after, err = CPUTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if x == 0 {
		t.Fatal("no work done")
	}
	if f := strings.Fields(LoadAverage()); len(f) != 3 {
		t.Errorf("load average %q, want three fields", LoadAverage())
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("the CPU time of pid -1 was read")
	}
}
