package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGOGCPercent(t *testing.T) {
	t.Setenv("GOGC", "")
	for _, tc := range []struct {
		flag string
		want float64
		ok   bool
	}{{"", 100, true}, {"200", 200, true}, {"off", 0, false}, {"-1", 0, false}} {
		if got, ok := gogcPercent(tc.flag); got != tc.want || ok != tc.ok {
			t.Errorf("gogcPercent(%q) = %v, %v; want %v, %v", tc.flag, got, ok, tc.want, tc.ok)
		}
	}
	t.Setenv("GOGC", "50")
	if got, ok := gogcPercent(""); got != 50 || !ok {
		t.Errorf("with GOGC=50: %v, %v", got, ok)
	}
}

// The heap goal is read from a real metrics page, and the line divides
// the live heap's growth by the links.
func TestHeapGoalAndMemoryLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != metricsPath {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("# HELP go_memstats_next_gc_bytes x\ngo_memstats_next_gc_bytes 3.2e+08\ngo_goroutines 9\n"))
	}))
	defer srv.Close()
	goal, err := heapGoal(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil || goal != 3.2e8 {
		t.Fatalf("heapGoal = %v, %v; want 3.2e8", goal, err)
	}
	// 20 MB -> 320 MB of goal at GOGC 100: 150 MB of live heap for a
	// million links, 150 bytes each, 105 beyond a 45-byte URL.
	line := memoryLine(1_000_000, 2e7, goal, 100, 45)
	for _, want := range []string{"about 150 bytes per cached link", "105 beyond its 45-byte URL"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if !strings.Contains(withMetrics("\tshortify_edge"), "metrics "+metricsPath) {
		t.Error("withMetrics does not add the metrics handler")
	}
}
