package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// The open-loop comparison: A and B at the same fixed arrival rate, well
// below what either carries, each request timed from when it was due
// (loadgen), so that the p99 ratio says what latency the handler adds.
// wrk's closed loop at saturation cannot say it: there a p99 is mostly
// connections over throughput, and its ratio repeats the CPU ratio.

// defaultOpenRate is the default of -rate. A fixed rate rather than a
// share of B's measured throughput, so that every size and every run is
// compared at the same load. Below saturation nothing batches (every
// request wakes the server and the client on its own), so a request
// costs several times its saturated CPU: at 5,000/s, measured on this
// two-core machine with -pin, about 50 µs of server CPU (25% of CPU 0)
// and 60 µs of the generator's (30% of CPU 1), against 25 µs of server
// CPU at wrk's saturation. At 2,000/s it was 80 and 90 µs. So 5,000/s
// leaves both cores most of their time; 10,000/s would take about half
// of each, and on a machine shared with other work the generator then
// starts late.
const defaultOpenRate = 5000

// openLimit is the largest share of late starts or failures a pass may
// have and still count: past it the rate is not one that both the
// generator and the instance carry, and the comparison is not made.
const openLimit = 0.01

// openPass is one open-loop pass against one instance.
type openPass struct {
	offered  float64 // requests sent per second of the pass
	answered float64 // answers (any status) per second, up to the last one
	stats    loadgen.Stats
	// server and client are the CPU time per request of the instance and
	// of this process (the generator), over the measured part: a client
	// near a whole core per second would be the bound.
	server, client time.Duration
	load           string // the load average at the end of the pass
}

func (p openPass) share(n int) float64 {
	if p.stats.Requests == 0 {
		return 0
	}
	return float64(n) / float64(p.stats.Requests)
}

// lateShare is the share of the pass's requests that the generator
// started more than loadgen's LateAfter past their due time.
func (p openPass) lateShare() float64 { return p.share(p.stats.Late) }

// failShare is the share that failed: no answer, an answer other than
// 302, or not sent because too many were in flight.
func (p openPass) failShare() float64 { return p.share(p.stats.Failures) }

func describeOpen(p openPass) string {
	s := p.stats
	return fmt.Sprintf("offered %6.0f/s  answered %6.0f/s  p50 %-8s p95 %-8s p99 %-8s max %-8s late %.2f%%  failed %.2f%%  CPU/req server %s, generator %s  load %s",
		p.offered, p.answered, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), 100*p.lateShare(), 100*p.failShare(),
		p.server.Round(100*time.Nanosecond), p.client.Round(100*time.Nanosecond), p.load)
}

// openResult is the open-loop comparison of one size: every pass of each
// instance, in the order they ran.
type openResult struct {
	rate         int
	runsA, runsB []openPass
}

// bestOpen is the pass with the lowest p99, as the wrk part counts each
// instance's best run: the pass that other work on the machine disturbed
// least. runs is not empty.
func bestOpen(runs []openPass) openPass {
	best := runs[0]
	for _, r := range runs[1:] {
		if r.stats.P99 < best.stats.P99 {
			best = r
		}
	}
	return best
}

// counted are the passes of runs with at most openLimit of their
// requests started late: in the others the generator (on a machine
// shared with other work) did not keep the rate, and its own delay is in
// their latencies.
func counted(runs []openPass) []openPass {
	var ok []openPass
	for _, p := range runs {
		if p.lateShare() <= openLimit {
			ok = append(ok, p)
		}
	}
	return ok
}

// openVerdict is the p99 ratio of A's lowest counted pass over B's, or
// why there is none: a pass of either with more than openLimit of its
// requests failed, or none answered, means the rate is not one both
// carry, and nothing counts; an instance all of whose passes started
// over openLimit late has none to compare.
func openVerdict(o openResult) (ratio float64, notMeasured string) {
	for _, side := range []struct {
		name string
		runs []openPass
	}{{"A", o.runsA}, {"B", o.runsB}} {
		if len(side.runs) == 0 {
			return 0, side.name + " has no pass"
		}
		var late []string
		for i, p := range side.runs {
			switch {
			case p.stats.Requests == 0 || p.stats.P99 <= 0:
				return 0, fmt.Sprintf("%s pass %d: no request answered", side.name, i+1)
			case p.failShare() > openLimit:
				return 0, fmt.Sprintf("%s pass %d: %.2f%% of the requests failed (limit %.0f%%: %v)",
					side.name, i+1, 100*p.failShare(), 100*openLimit, p.stats.Outcomes)
			case p.lateShare() > openLimit:
				late = append(late, fmt.Sprintf("pass %d %.2f%%", i+1, 100*p.lateShare()))
			}
		}
		if len(late) == len(side.runs) {
			return 0, fmt.Sprintf("every pass of %s had over %.0f%% of its requests started late (%s): the generator did not keep the rate",
				side.name, 100*openLimit, strings.Join(late, ", "))
		}
	}
	return bestOpen(counted(o.runsA)).stats.P99.Seconds() / bestOpen(counted(o.runsB)).stats.P99.Seconds(), ""
}

// openLine is the open-loop ratio line of one size: A's p99 over B's at
// the same arrival rate, against issue 19's goal (the smart case has no
// p99 goal), or NOT measured with the reason.
func openLine(n int, smart bool, o openResult) string {
	head := fmt.Sprintf("ratio %s links=%d: open-loop p99 A/B at %d/s: ", caseName(smart), n, o.rate)
	ratio, why := openVerdict(o)
	if why != "" {
		return head + "NOT measured (" + why + ")"
	}
	goal := fmt.Sprintf("goal <= %.1f: %s", goalP99, metOrNot(ratio <= goalP99))
	if smart {
		goal = "no goal"
	}
	okA, okB := counted(o.runsA), counted(o.runsB)
	return fmt.Sprintf("%s%.2f (%s)  p99 A %s, B %s (the lowest of %d of %d and %d of %d passes: those with at most %.0f%% late)",
		head, ratio, goal, ms(bestOpen(okA).stats.P99), ms(bestOpen(okB).stats.P99),
		len(okA), len(o.runsA), len(okB), len(o.runsB), 100*openLimit)
}

// openLoop is how the open-loop passes run.
type openLoop struct {
	rate     int
	duration time.Duration // measured part of one pass
	conns    int           // keep-alive connections of the client
	pin      bool          // run the generator on CPU 1, where wrk runs
}

// compare runs rounds passes against each of a and b, interleaved A, B,
// A, B, printing each pass and then the ratio line to w.
func (o openLoop) compare(ctx context.Context, w io.Writer, n int, smart bool, rounds int, a, b *instance, links linkSet, codes []string) (openResult, error) {
	res := openResult{rate: o.rate}
	for round := 1; round <= rounds; round++ {
		for _, s := range []struct {
			in   *instance
			runs *[]openPass
			name string
		}{{a, &res.runsA, "A shortify"}, {b, &res.runsB, "B static redir"}} {
			p, err := o.pass(ctx, s.in, links, codes)
			if err != nil {
				return res, fmt.Errorf("open-loop pass against %s: %w", s.in.name, err)
			}
			*s.runs = append(*s.runs, p)
			fmt.Fprintf(w, "  %-16s open-loop pass %d: %s\n", s.name, round, describeOpen(p))
		}
	}
	fmt.Fprintln(w, "  "+openLine(n, smart, res))
	return res, nil
}

// pass sends o.rate requests a second to in for a warm-up (connections
// opened, not counted) and then o.duration, each for a code drawn
// uniformly from codes with its link's Host (as codes.lua does), and
// returns the figures of the measured part with every request in it
// answered.
func (o openLoop) pass(ctx context.Context, in *instance, links linkSet, codes []string) (openPass, error) {
	if o.pin {
		restore, err := pinProcess(1)
		if err != nil {
			return openPass{}, err
		}
		defer restore()
	}
	// A fixed pool of keep-alive connections, as wrk has: a request that
	// finds every one busy waits for one, and that wait is in its time.
	tr := &http.Transport{MaxConnsPerHost: o.conns, MaxIdleConnsPerHost: o.conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + in.addr + "/"
	req := func(ctx context.Context) (string, bool) {
		i := rand.IntN(len(codes))
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, base+codes[i], nil)
		if err != nil {
			return "error", true
		}
		r.Host = links.host(i)
		resp, err := client.Do(r)
		if err != nil {
			return "error", true
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode), resp.StatusCode != http.StatusFound
	}

	l := loadgen.Start(ctx, loadgen.Config{Rate: o.rate}, req)
	defer l.Stop()
	if err := loadgen.Sleep(ctx, min(time.Second, o.duration/4)); err != nil {
		return openPass{}, err
	}
	cpu0, err := cpuTimes(in.pid(), os.Getpid())
	if err != nil {
		return openPass{}, err
	}
	l.Window() // the warm-up's
	begin := time.Now()
	if err := loadgen.Sleep(ctx, o.duration); err != nil {
		return openPass{}, err
	}
	span := time.Since(begin)
	s := l.Drain()
	cpu1, err := cpuTimes(in.pid(), os.Getpid())
	if err != nil {
		return openPass{}, err
	}
	answered := s.Requests - s.Outcomes["error"] - s.Outcomes["dropped"]
	p := openPass{
		offered:  float64(s.Requests) / span.Seconds(),
		answered: float64(answered) / s.Duration.Seconds(),
		stats:    s,
		load:     procs.LoadAverage(),
	}
	if s.Requests > 0 {
		p.server = (cpu1[0] - cpu0[0]) / time.Duration(s.Requests)
		p.client = (cpu1[1] - cpu0[1]) / time.Duration(s.Requests)
	}
	return p, nil
}

// cpuTimes is the CPU time each of the processes has used so far.
func cpuTimes(pids ...int) ([]time.Duration, error) {
	ds := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := procs.CPUTime(pid)
		if err != nil {
			return nil, err
		}
		ds[i] = d
	}
	return ds, nil
}
