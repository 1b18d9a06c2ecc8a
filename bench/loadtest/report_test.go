package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/promtest"
)

// good is a run that meets every target.
func good() results {
	r := results{
		Rate: 10_000, Window: time.Minute, Requests: 600_000, Failures: 10, Late: 5, RPS: 9_995,
		P50: 2 * time.Millisecond, P95: 8 * time.Millisecond, P99: 40 * time.Millisecond,
		Delays: []time.Duration{time.Second, 2 * time.Second}, Probes: 2,
		Creates: 100, CreatesOK: 100,
		Clicks: clickCheck{Links: 10, Exact: 10, Seen: 500, Counted: 500},
	}
	r.Hits.L1.Lookups, r.Hits.L1.Hits = 1000, 900
	r.Hits.L2.Lookups, r.Hits.L2.Hits = 100, 80
	r.Hits.L3.Lookups, r.Hits.L3.Hits = 20, 20
	return r
}

// Each target is met or not on its own bound: a run just past one bound
// fails that row alone, and the verdict.
func TestTargetsMetOrNot(t *testing.T) {
	tests := []struct {
		name   string
		change func(*results)
		failed string // the row not met; "" for none
	}{
		{"every target", func(*results) {}, ""},
		{"p50 at the bound", func(r *results) { r.P50 = 10 * time.Millisecond }, "redirect latency p50"},
		{"p95 past", func(r *results) { r.P95 = 51 * time.Millisecond }, "redirect latency p95"},
		{"p99 past", func(r *results) { r.P99 = 100 * time.Millisecond }, "redirect latency p99"},
		{"throughput within 1%", func(r *results) { r.RPS = 9_900 }, ""},
		{"throughput short", func(r *results) { r.RPS = 9_899 }, "throughput"},
		{"cache hit rate at 95%", func(r *results) { r.Hits.L2.Hits = 50 }, "cache hit rate (L1+L2)"},
		{"errors at 0.1%", func(r *results) { r.Failures = 600 }, "errors"},
		{"errors just under", func(r *results) { r.Failures = 599 }, ""},
		{"a slow probe", func(r *results) { r.Delays = append(r.Delays, 5*time.Second); r.Probes++ }, "click-to-dashboard delay"},
		{"a probe never seen", func(r *results) { r.Probes = 3 }, "click-to-dashboard delay"},
		{"no probe", func(r *results) { r.Delays, r.Probes = nil, 0 }, "click-to-dashboard delay"},
		{"generator late", func(r *results) { r.Late = 600 }, "generator on time"},
		{"a create lost", func(r *results) { r.CreatesOK = 99 }, "acknowledged creates redirect"},
		{"a click counted twice", func(r *results) { r.Clicks.Exact = 9 }, "clicks counted exactly once"},
		{"no click compared", func(r *results) { r.Clicks = clickCheck{} }, "clicks counted exactly once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.change(&r)
			rows := r.rows()
			var failed []string
			for _, row := range rows {
				if !row.met {
					failed = append(failed, row.what)
				}
			}
			want := []string(nil)
			if tt.failed != "" {
				want = []string{tt.failed}
			}
			if strings.Join(failed, ",") != strings.Join(want, ",") {
				t.Fatalf("rows not met: %q, want %q\n%s", failed, want, table(rows))
			}
			verdict := "targets=met"
			if tt.failed != "" {
				verdict = "targets=not-met"
			}
			if line := r.lastLine(rows); !strings.HasSuffix(line, " "+verdict) {
				t.Fatalf("last line %q, want it to end with %s", line, verdict)
			}
		})
	}
}

// The last line has the exact form docs/loadtest.md and scripts read.
func TestLastLine(t *testing.T) {
	r := good()
	want := "loadtest: rps=9995 p50_ms=2.00 p95_ms=8.00 p99_ms=40.00 errors_pct=0.002 l1_hit_pct=90.00 targets=met"
	if got := r.lastLine(r.rows()); got != want {
		t.Fatalf("last line\n got %s\nwant %s", got, want)
	}
}

// The table is Markdown: a header, then one line per row, a verdict on
// the rows with a target only.
func TestTable(t *testing.T) {
	got := table([]row{
		{"redirect latency p50", "< 10 ms", "2.00 ms", true},
		{"  L1 (edge memory) hit rate", "", "90.00% of 1000", true},
		{"errors", "< 0.1%", "1.000% (6 of 600)", false},
	})
	want := "| | target | measured | |\n| --- | --- | --- | --- |\n" +
		"| redirect latency p50 | < 10 ms | 2.00 ms | met |\n" +
		"|   L1 (edge memory) hit rate |  | 90.00% of 1000 |  |\n" +
		"| errors | < 0.1% | 1.000% (6 of 600) | **not met** |\n"
	if got != want {
		t.Fatalf("table\n%s\nwant\n%s", got, want)
	}
}

// The CPU table takes each role's cost at rest off before it divides by
// the requests answered.
func TestCPUTable(t *testing.T) {
	r := results{
		Window: 10 * time.Second, Requests: 120_000, Answered: 100_000,
		CPU:  roleCPU{"edges (2)": 5 * time.Second, "front door": 2 * time.Second},
		Idle: roleCPU{"edges (2)": time.Second}, IdleWindow: 5 * time.Second,
		CPUOrder: []string{"edges (2)", "front door"},
	}
	want := "| role | CPU s | cores | cores at rest | CPU ms per 1000 requests, beyond rest |\n| --- | --- | --- | --- | --- |\n" +
		"| edges (2) | 5.0 | 0.50 | 0.20 | 30.0 |\n| front door | 2.0 | 0.20 | 0.00 | 20.0 |\n| total | 7.0 | 0.70 | 0.20 | 50.0 |\n"
	if got := r.cpuTable(); got != want {
		t.Fatalf("CPU table\n%s\nwant\n%s", got, want)
	}
}

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc allows.
	line := "1234 (post gres) x) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 100 0 0"
	got, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if got.ppid != 77 || got.self != 3*time.Second || got.children != 500*time.Millisecond {
		t.Fatalf("parseStat = %+v, want ppid 77, self 3s, children 500ms", got)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S z 1 1 0 -1 0 0 0 0 0 1 1 1 1 20"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

// The tiers' figures come from the edges' counter deltas.
func TestHitsOf(t *testing.T) {
	now := promtest.Page{
		cacheSample("l1", "hit"): 90, cacheSample("l1", "miss"): 10,
		cacheSample("l2", "hit"): 8, cacheSample("l2", "miss"): 2,
		cacheSample("store", "hit"): 2,
	}
	before := promtest.Page{cacheSample("l1", "hit"): 40, cacheSample("l1", "miss"): 10}
	h := hitsOf(now.Sub(before))
	if h.L1.Hits != 50 || h.L1.Lookups != 50 || h.L2.Lookups != 10 || h.L3.Hits != 2 || h.L3.Lookups != 2 {
		t.Fatalf("tiers = %+v", h)
	}
	// The caches' hit rate: L1 or L2 hits of all L1 lookups.
	if got := good().Hits.CacheHitPct(); got != 98 {
		t.Fatalf("cache hit rate %v%%, want 98%%", got)
	}
}

// The bound: CPU-bound when the machine was busy, with the capacity the
// cost per request allows; otherwise it says the bound is elsewhere.
func TestBound(t *testing.T) {
	r := results{
		Rate: 2000, Window: 10 * time.Second, Answered: 20_000, RPS: 2000, CPUs: 2, Busy: 0.97,
		CPU:      roleCPU{"edges (2)": 6 * time.Second, "front door": 4 * time.Second, "stats (2)": 2 * time.Second},
		CPUOrder: []string{"stats (2)", "edges (2)", "front door"},
	}
	// 12 s over 20,000 requests: 0.6 ms each, 2 CPUs → 3,333 req/s;
	// 10,000 req/s need 6.
	want := "Bound: the machine's CPU, 97% busy over the window (/proc/stat, 2 CPUs). The stack spent 0.60 CPU-ms per answered request (every role, at-rest cost included), so these 2 CPUs answer at most about 3333 req/s at this cost; 10000 req/s would need about 6. Largest shares: edges (2) 50%, front door 33%, stats (2) 17%."
	if got := r.bound(); got != want {
		t.Errorf("bound\n%s\nwant\n%s", got, want)
	}
	r.Busy = 0.5
	want = "Bound: the offered rate: every request answered (2000 req/s of 2000 offered), the machine's CPU 50% busy over the window (/proc/stat, 2 CPUs). At 0.60 CPU-ms per answered request (every role, at-rest cost included) these 2 CPUs would answer about 3333 req/s; 10000 req/s would need about 6. Largest shares: edges (2) 50%, front door 33%, stats (2) 17%."
	if got := r.bound(); got != want {
		t.Errorf("bound of a run that answered all it was offered\n%s\nwant\n%s", got, want)
	}
	r.Failures = 30
	if got := r.bound(); !strings.HasPrefix(got, "Bound: not the machine's CPU (50% busy") {
		t.Errorf("bound of a run with idle CPU and failures: %s", got)
	}
	r.Answered = 0
	if got := r.bound(); !strings.Contains(got, "no request answered") {
		t.Errorf("bound of a run without answers: %s", got)
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineCPU("cpu  100 10 40 800 30 5 5 10 0 0\ncpu0 50 5 20 400 15 2 3 5 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.busy != 1700*time.Millisecond || got.all != 10*time.Second {
		t.Fatalf("parseMachineCPU = %+v, want busy 1.7s of 10s", got)
	}
	if s := got.busyShare(machineCPU{}); s != 0.17 {
		t.Errorf("busyShare = %v, want 0.17", s)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseMachineCPU(bad); err == nil {
			t.Errorf("parseMachineCPU(%q) accepted", bad)
		}
	}
}
