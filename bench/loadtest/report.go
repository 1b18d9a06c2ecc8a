package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The plan's targets (issue 19) and the bounds of a valid run.
const (
	targetP50       = 10 * time.Millisecond
	targetP95       = 50 * time.Millisecond
	targetP99       = 100 * time.Millisecond
	targetRPS       = 10_000
	targetHitPct    = 95
	targetErrorsPct = 0.1
	// targetClickDelay bounds the slowest probe's click-to-dashboard delay:
	// docs/stats.md promises a click on the dashboard "within seconds".
	targetClickDelay = 5 * time.Second
	// rpsTolerance: an open-loop run at exactly targetRPS ends a window
	// with requests still in flight, so 99% of it meets it.
	rpsTolerance = 0.99
	// maxLatePct is how many requests may start late (the generator short
	// of CPU) before the run no longer measures the stack.
	maxLatePct = 0.1
)

// results are a run's figures, the table's input.
type results struct {
	Rate      int           // offered, requests/s
	Window    time.Duration // the measured window
	Requests  int           // ended in the window: every kind
	Answered  int           // of them, answered by the stack (any status)
	Failures  int
	Late      int     // started late by the generator
	RPS       float64 // answered requests/s (not dropped)
	P50       time.Duration
	P95       time.Duration
	P99       time.Duration // of redirects
	Hits      tierHits
	Delays    []time.Duration // click-to-dashboard, one per probe that was seen
	Probes    int             // probes sent
	Creates   int             // acknowledged creates
	CreatesOK int             // of them, redirecting at the end
	Clicks    clickCheck
	CPU       roleCPU
	CPUOrder  []string // roles in table order
	// Idle is each role's CPU over IdleWindow before the load: the
	// stack's cost at rest, taken off CPU for the cost of the requests.
	Idle       roleCPU
	IdleWindow time.Duration
	// CPUs and Busy: the machine's CPU count and the share of all of it
	// that was busy over the window (/proc/stat), for the bound.
	CPUs int
	Busy float64
}

// clickCheck is the exactly-once comparison: links compared, and how
// many of them the stats count as the 302s the generator saw (checkClicks).
type clickCheck struct {
	Links, Exact              int
	Seen, Unanswered, Counted int64
	Detail                    string // the last mismatch, if any
}

// row is one line of the table.
type row struct {
	what, target, measured string
	met                    bool
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", d.Seconds()*1000) }

// ErrorsPct is the share of failed requests, in percent.
func (r results) ErrorsPct() float64 { return pct(float64(r.Failures), float64(r.Requests)) }

// LatePct is the share of requests the generator started late.
func (r results) LatePct() float64 { return pct(float64(r.Late), float64(r.Requests)) }

// maxDelay is the slowest probe's delay; zero without any.
func (r results) maxDelay() time.Duration {
	if len(r.Delays) == 0 {
		return 0
	}
	return slices.Max(r.Delays)
}

// rows are the table: the plan's targets, then the run's own checks.
func (r results) rows() []row {
	h := r.Hits
	delay := "no probe seen"
	if len(r.Delays) > 0 {
		sorted := slices.Sorted(slices.Values(r.Delays))
		delay = fmt.Sprintf("p50 %.2f s, max %.2f s (%d of %d probes)", sorted[len(sorted)/2].Seconds(), r.maxDelay().Seconds(), len(r.Delays), r.Probes)
	}
	return []row{
		{"redirect latency p50", "< 10 ms", ms(r.P50), r.P50 < targetP50},
		{"redirect latency p95", "< 50 ms", ms(r.P95), r.P95 < targetP95},
		{"redirect latency p99", "< 100 ms", ms(r.P99), r.P99 < targetP99},
		{"throughput", "10,000 req/s", fmt.Sprintf("%.0f req/s (offered %d/s)", r.RPS, r.Rate), r.RPS >= rpsTolerance*targetRPS},
		{"cache hit rate (L1+L2)", "> 95%", fmt.Sprintf("%.2f%%", h.CacheHitPct()), h.CacheHitPct() > targetHitPct},
		{"  L1 (edge memory) hit rate", "", fmt.Sprintf("%.2f%% of %.0f", pct(h.L1.Hits, h.L1.Lookups), h.L1.Lookups), true},
		{"  L2 (Redis) hit rate", "", fmt.Sprintf("%.2f%% of %.0f", pct(h.L2.Hits, h.L2.Lookups), h.L2.Lookups), true},
		{"  L3 (PostgreSQL) hit rate", "", fmt.Sprintf("%.2f%% of %.0f", pct(h.L3.Hits, h.L3.Lookups), h.L3.Lookups), true},
		{"errors", "< 0.1%", fmt.Sprintf("%.3f%% (%d of %d)", r.ErrorsPct(), r.Failures, r.Requests), r.ErrorsPct() < targetErrorsPct},
		{"click-to-dashboard delay", "< 5 s", delay, len(r.Delays) == r.Probes && r.Probes > 0 && r.maxDelay() < targetClickDelay},
		{"generator on time", "< 0.1% late > 10 ms", fmt.Sprintf("%.3f%% (%d)", r.LatePct(), r.Late), r.LatePct() < maxLatePct},
		{"acknowledged creates redirect", "all", fmt.Sprintf("%d of %d", r.CreatesOK, r.Creates), r.CreatesOK == r.Creates},
		{"clicks counted exactly once", "all", r.Clicks.String(), r.Clicks.Links > 0 && r.Clicks.Exact == r.Clicks.Links},
	}
}

// String says how the comparison went.
func (c clickCheck) String() string {
	s := fmt.Sprintf("%d of %d links exact (%d counted, %d seen)", c.Exact, c.Links, c.Counted, c.Seen)
	if c.Unanswered > 0 {
		s = fmt.Sprintf("%d of %d links within bounds (%d counted, %d seen, %d unanswered that the stack may have served)", c.Exact, c.Links, c.Counted, c.Seen, c.Unanswered)
	}
	if c.Detail != "" {
		s += "; " + c.Detail
	}
	return s
}

// met reports whether every row is met.
func met(rows []row) bool {
	for _, r := range rows {
		if !r.met {
			return false
		}
	}
	return true
}

// table renders rows as a Markdown table, for the terminal and
// docs/loadtest.md alike.
func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| | target | measured | |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		verdict := "met"
		if !r.met {
			verdict = "**not met**"
		}
		if r.target == "" {
			verdict = ""
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.what, r.target, r.measured, verdict)
	}
	return b.String()
}

// cpuTable renders each role's CPU over the window: seconds, the cores
// it kept busy, the cores it keeps busy at rest, and per 1000 requests
// answered the CPU beyond its rest (what sizing multiplies by the rate).
func (r results) cpuTable() string {
	var b strings.Builder
	b.WriteString("| role | CPU s | cores | cores at rest | CPU ms per 1000 requests, beyond rest |\n| --- | --- | --- | --- | --- |\n")
	var total, idle time.Duration
	for _, name := range r.CPUOrder {
		total += r.CPU[name]
		idle += r.Idle[name]
		b.WriteString(r.cpuRow(name, r.CPU[name], r.Idle[name]))
	}
	b.WriteString(r.cpuRow("total", total, idle))
	return b.String()
}

func (r results) cpuRow(name string, d, idle time.Duration) string {
	rest := 0.0
	if r.IdleWindow > 0 {
		rest = idle.Seconds() / r.IdleWindow.Seconds()
	}
	per := 0.0
	if r.Answered > 0 {
		per = (d.Seconds() - rest*r.Window.Seconds()) * 1000 / float64(r.Answered) * 1000
	}
	return fmt.Sprintf("| %s | %.1f | %.2f | %.2f | %.1f |\n", name, d.Seconds(), d.Seconds()/r.Window.Seconds(), rest, per)
}

// cpuBoundBusy is how busy the machine must be for the report to call the
// run CPU-bound: the rest is the kernel's and the scheduler's slack.
const cpuBoundBusy = 0.9

// bound says what held the run back, from the CPU it measured: when the
// machine was busy, the stack's CPU per request and the rate the machine's
// cores could answer at that cost, with the roles that cost most; when it
// was not, that the bound is elsewhere (the profiles, the errors).
func (r results) bound() string {
	var total, idle time.Duration
	type share struct {
		name string
		d    time.Duration
	}
	var shares []share
	for _, name := range r.CPUOrder {
		total += r.CPU[name]
		idle += r.Idle[name]
		shares = append(shares, share{name, r.CPU[name]})
	}
	if r.Answered == 0 || total <= 0 || r.CPUs < 1 {
		return "Bound: no request answered, so no cost per request; see the errors and the logs."
	}
	// The CPU per request includes the stack's cost at rest: it is spent
	// at any rate, and the machine has to carry it.
	perReq := total.Seconds() / float64(r.Answered)
	capacity := float64(r.CPUs) / perReq
	slices.SortFunc(shares, func(a, b share) int { return int(b.d - a.d) })
	var top []string
	for _, s := range shares[:min(4, len(shares))] {
		top = append(top, fmt.Sprintf("%s %.0f%%", s.name, 100*s.d.Seconds()/total.Seconds()))
	}
	if r.Busy < cpuBoundBusy && r.Failures == 0 && r.RPS >= 0.99*float64(r.Rate) {
		return fmt.Sprintf("Bound: the offered rate: every request answered (%.0f req/s of %d offered), the machine's CPU %.0f%% busy over the window (/proc/stat, %d CPUs). At %.2f CPU-ms per answered request (every role, at-rest cost included) these %d CPUs would answer about %.0f req/s; %d req/s would need about %.0f. Largest shares: %s.",
			r.RPS, r.Rate, 100*r.Busy, r.CPUs, 1000*perReq, r.CPUs, capacity, targetRPS, float64(targetRPS)*perReq, strings.Join(top, ", "))
	}
	if r.Busy < cpuBoundBusy {
		return fmt.Sprintf("Bound: not the machine's CPU (%.0f%% busy over the window, /proc/stat): the stack answered %.0f req/s of %d offered at %.2f CPU-ms a request; look at the errors, the profiles below and the logs.",
			100*r.Busy, r.RPS, r.Rate, 1000*perReq)
	}
	return fmt.Sprintf("Bound: the machine's CPU, %.0f%% busy over the window (/proc/stat, %d CPUs). The stack spent %.2f CPU-ms per answered request (every role, at-rest cost included), so these %d CPUs answer at most about %.0f req/s at this cost; %d req/s would need about %.0f. Largest shares: %s.",
		100*r.Busy, r.CPUs, 1000*perReq, r.CPUs, capacity, targetRPS, float64(targetRPS)*perReq, strings.Join(top, ", "))
}

// lastLine is the machine-readable summary, the output's last line.
func (r results) lastLine(rows []row) string {
	verdict := "met"
	if !met(rows) {
		verdict = "not-met"
	}
	return fmt.Sprintf("loadtest: rps=%.0f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f errors_pct=%.3f l1_hit_pct=%.2f targets=%s",
		r.RPS, r.P50.Seconds()*1000, r.P95.Seconds()*1000, r.P99.Seconds()*1000, r.ErrorsPct(), pct(r.Hits.L1.Hits, r.Hits.L1.Lookups), verdict)
}
