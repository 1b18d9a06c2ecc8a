package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// allowedCPUs is the Cpus_allowed_list of every thread of this process.
func allowedCPUs(t *testing.T) map[string]bool {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]bool{}
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread has ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				lists[strings.TrimSpace(v)] = true
			}
		}
	}
	return lists
}

// TestPinProcess: pinned, every thread of the process may run on CPU 0
// alone, the Go scheduler has one P; restored, the threads have their
// CPUs back.
func TestPinProcess(t *testing.T) {
	before := allowedCPUs(t)
	procs := runtime.GOMAXPROCS(0)
	restore, err := pinProcess(0)
	if err != nil {
		t.Fatal(err)
	}
	pinned := allowedCPUs(t)
	gomaxprocs := runtime.GOMAXPROCS(0)
	restore()
	if len(pinned) != 1 || !pinned["0"] || gomaxprocs != 1 {
		t.Errorf("pinned: threads allowed on %v, GOMAXPROCS %d; want CPU 0 alone and 1", pinned, gomaxprocs)
	}
	if after := allowedCPUs(t); len(after) != len(before) || runtime.GOMAXPROCS(0) != procs {
		t.Errorf("restored: threads allowed on %v (before %v), GOMAXPROCS %d (before %d)", after, before, runtime.GOMAXPROCS(0), procs)
	}
	for cpus := range before {
		if !allowedCPUs(t)[cpus] {
			t.Errorf("restored: no thread allowed on %s as before", cpus)
		}
	}
}
