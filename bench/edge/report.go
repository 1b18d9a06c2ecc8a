package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The lines the harness prints: ratios against the goals, shares, the
// summary over sizes.

// best is the run with the highest throughput.
func best(runs []result) result {
	return slices.MaxFunc(runs, func(x, y result) int {
		switch {
		case x.rps() < y.rps():
			return -1
		case x.rps() > y.rps():
			return 1
		}
		return 0
	})
}

func describe(r result) string {
	return fmt.Sprintf("%8.0f req/s  p50 %-8s p99 %-8s max %-8s server CPU %s/req",
		r.rps(), ms(r.p50), ms(r.p99), ms(r.max), r.cpuPerRequest().Round(100*time.Nanosecond))
}

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 2, 64) + "ms" }

// ratioLine is the line with the word "ratio" that issue 4 asks for; the
// smart case's has issue 16's goal and no p99 goal.
func ratioLine(n int, smart bool, a, b result) string {
	tp, p99 := a.rps()/b.rps(), a.p99.Seconds()/b.p99.Seconds()
	cpu := float64(a.cpuPerRequest()) / float64(b.cpuPerRequest())
	p99Goal := fmt.Sprintf("goal <= %.1f: %s", goalP99, metOrNot(p99 <= goalP99))
	if smart {
		p99Goal = "no goal"
	}
	return fmt.Sprintf("ratio %s links=%d: throughput A/B %.2f (goal >= %.2f: %s)  p99 A/B %.2f (%s)  server CPU/request A/B %.2f",
		caseName(smart), n, tp, throughputGoal(smart), metOrNot(tp >= throughputGoal(smart)), p99, p99Goal, cpu)
}

// throughputGoal is the case's goal for throughput A/B.
func throughputGoal(smart bool) float64 {
	if smart {
		return goalSmartThroughput
	}
	return goalThroughput
}

// tallyLine says where the warm-up's answers went, by what chose them.
func tallyLine(names []string, tally []int64) string {
	var total int64
	for _, n := range tally {
		total += n
	}
	parts := make([]string, len(names))
	for i, name := range names {
		share := 0.0
		if total > 0 {
			share = float64(tally[i]) / float64(total)
		}
		parts[i] = fmt.Sprintf("%s %.1f%%", name, 100*share)
	}
	return "warm-up answers by choice: " + strings.Join(parts, ", ")
}

// shareLine says which share of the measured requests named the custom
// domain, over all the runs given (as codes.lua counted them).
func shareLine(runs []result) string {
	var sent, custom int64
	for _, r := range runs {
		sent, custom = sent+r.sent, custom+r.custom
	}
	share := 0.0
	if sent > 0 {
		share = float64(custom) / float64(sent)
	}
	return fmt.Sprintf("custom domain: %.1f%% of the %d requests of these runs had Host %s (the rest %s)", 100*share, sent, customDomain, ownHost)
}

// ratiosLine puts the throughput ratios of both cases on one line, each
// against its goal, as issue 16 asks ("print both ratios").
func ratiosLine(results []sizeResult) string {
	var parts []string
	for _, smart := range []bool{false, true} {
		for _, r := range results {
			if r.smart != smart {
				continue
			}
			tp := r.a.rps() / r.b.rps()
			parts = append(parts, fmt.Sprintf("%s links=%d %.2f (goal >= %.2f: %s)",
				caseName(smart), r.links, tp, throughputGoal(smart), metOrNot(tp >= throughputGoal(smart))))
		}
	}
	return "ratios A/B: " + strings.Join(parts, "; ")
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// summary prints every size's figures together, and how throughput moved
// from the smallest to the largest number of links.
func (b *bench) summary() {
	fmt.Printf("\nsummary (wrk -t%d -c%d -d%s, best of %d run(s) each; %.0f%% of the links on the custom domain %s, the requests' Host that of their link):\n",
		b.cfg.threads, b.cfg.conns, b.cfg.duration, b.cfg.rounds, 100*b.cfg.domainShare, customDomain)
	fmt.Printf("  %-6s %-9s %-11s %-11s %-6s %-9s %-9s %-8s %-9s %s\n", "case", "links", "A req/s", "B req/s", "A/B", "A p99", "B p99", "p99 A/B", "A custom", "load average")
	for _, r := range b.results {
		fmt.Printf("  %-6s %-9d %-11.0f %-11.0f %-6.2f %-9s %-9s %-8.2f %-9s %s\n", caseName(r.smart), r.links, r.a.rps(), r.b.rps(), r.a.rps()/r.b.rps(),
			ms(r.a.p99), ms(r.b.p99), r.a.p99.Seconds()/r.b.p99.Seconds(), fmt.Sprintf("%.1f%%", 100*r.a.customShare()), r.load)
	}
	fmt.Println("  " + ratiosLine(b.results))
	for _, r := range b.results {
		if r.open != nil {
			fmt.Println("  " + openLine(r.links, r.smart, *r.open))
		}
	}
	var plain []sizeResult
	for _, r := range b.results {
		if !r.smart {
			plain = append(plain, r)
		}
	}
	if len(plain) > 1 {
		first, last := plain[0], plain[len(plain)-1]
		fmt.Printf("  A throughput from %d to %d links: %.0f -> %.0f req/s (%+.1f%%; A/B %.2f -> %.2f)\n",
			first.links, last.links, first.a.rps(), last.a.rps(), 100*(last.a.rps()/first.a.rps()-1),
			first.a.rps()/first.b.rps(), last.a.rps()/last.b.rps())
		fmt.Println("  " + scaleLine(first, last))
	}
	for _, r := range b.results {
		if r.memory != "" {
			fmt.Printf("  links=%d %s\n", r.links, r.memory)
		}
	}
	for _, r := range b.results {
		if r.c != nil {
			fmt.Printf("  L1 miss with %d links: Redis hit %.0f req/s (p99 %s), database hit %.0f req/s (p99 %s)\n",
				r.links, r.c.rps(), ms(r.c.p99), r.d.rps(), ms(r.d.p99))
			fmt.Printf("  L1 miss ratios against the L1 hit (A) of the same run: Redis hit %.2f (goal >= 0.60), database hit %.2f (goal >= 0.30)\n",
				r.c.rps()/r.a.rps(), r.d.rps()/r.a.rps())
		}
	}
}

// scaleLine compares the largest plain size with the smallest, as issue
// 19 asks of ten million links: A's throughput against the small case's
// (goal: at least 0.90 of it), also with each run's throughput taken
// over B's of the same size (which other load on the machine moves
// less), and A's p99 over B's (goal: at most 1.2).
func scaleLine(small, large sizeResult) string {
	tp := large.a.rps() / small.a.rps()
	rel := (large.a.rps() / large.b.rps()) / (small.a.rps() / small.b.rps())
	p99 := large.a.p99.Seconds() / large.b.p99.Seconds()
	return fmt.Sprintf("scale links=%d against links=%d: A throughput %.2f (goal >= %.2f: %s; over B's of each size %.2f)  p99 A/B %.2f (goal <= %.1f: %s)",
		large.links, small.links, tp, goalThroughput, metOrNot(tp >= goalThroughput), rel, p99, goalP99, metOrNot(p99 <= goalP99))
}
