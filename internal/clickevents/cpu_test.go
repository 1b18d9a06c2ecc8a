package clickevents

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the CPU time this process used so far, user and system,
// all threads (the garbage collector's too).
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU adds a cpu-ns/op metric: on a machine shared with other work
// ns/op (wall time) grows with the load, CPU time per operation much
// less. Call it with the CPU time taken before the loop.
func ReportCPU(b *testing.B, start time.Duration) {
	b.Helper()
	b.ReportMetric(float64(CPUTime(b)-start)/float64(b.N), "cpu-ns/op")
}
