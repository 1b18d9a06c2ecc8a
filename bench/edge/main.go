// Command edge benchmarks the redirect path end to end, as issue 4 asks:
// wrk (Debian's package) on 127.0.0.1 against two Caddy instances started
// from the same binary (bin/shortify), one serving the shortify_edge handler
// with a warm L1 (instance A), one serving Caddy's own static
// `redir * https://example.com/target 302` (instance B). It prints each
// one's requests/s, p50 and p99, and a line with the word "ratio" (A/B
// throughput and A/B p99), for 10,000 and for 1,000,000 links, then the
// L1-miss paths (Redis hit, database hit) in requests/s. Then the smart
// case (issue 16): a million links, each with three targeting rules and a
// weighted split, against the same static redirect (goal >= 0.80).
//
// wrk's closed loop at saturation makes a p99 that is mostly connections
// over throughput, so its p99 ratio repeats the CPU ratio. After the wrk
// runs of each size, an open loop (internal/testkit/loadgen) therefore
// sends A and B the same fixed arrival rate (-rate, 5,000/s by default,
// well below what either carries), the same random codes, each request
// timed from when it was due, and prints each pass's offered and answered
// rates, p50/p95/p99/max, late starts and failures, and the line
// "ratio ... open-loop p99 A/B at <rate>/s" (issue 19's goal: at most
// 1.2) over the lowest p99 of each instance's passes that started at
// most 1% of their requests late, or NOT measured when a pass had more
// than 1% failed or every pass of one instance started more than 1% late
// (then the rate was not one both carry).
//
// Run it with `make bench-edge` (or `make bench`, which runs it after the
// Go benchmarks), or directly:
//
//	go run ./bench/edge [-sizes 10000,1000000] [-smart-sizes 1000000] [-duration 8s] [-rounds 2] [-rate 5000]
//
// The edge is measured with the host in the cache key: a share of the
// links (-domain-share, half by default) lives on the custom domain
// go.bench.example, registered as verified in the edge's domain mirror, A
// has its own host name in the option hosts, and every request carries
// the Host of its link (B gets the same requests).
//
// Steps for each size N: a fresh PostgreSQL database gets the schema, N
// links by COPY (timed) and the custom domain in its mirror, and a codes
// file (host and code per line); Redis gets every link as the control
// plane's write-through would put it there; A starts with cache_size >= N
// and a one-hour cache_ttl, answers on the custom domain and 404s for a
// code asked on the wrong host, and one GET of every code, with its Host,
// warms its L1 (from Redis); then wrk runs A and B in turn, rounds times,
// with the same Lua script (codes.lua: a random line of the codes file per
// request, counting those on the custom domain), and the best run of each
// counts; then the open-loop passes, A, B, A, B, rounds times, with
// the same distribution of codes and Hosts. After the largest size, two more instances with a
// tiny L1 measure the miss paths: C reads Redis, D has no Redis and reads
// the database.
//
// The smart case (-smart-sizes) seeds the same way, every link with the
// options of smartOptions: three rules that wrk's requests never match
// (so the edge walks all of them) and a 70/30 split that picks the
// target. Its warm-up accepts a 302 to any URL the options may choose,
// and never the link's own url, which a smart link with a split does not
// send anyone to: an edge that ignored the options would fail it.
//
// Click events: when the shortify_edge directive has a Kafka option (probed by
// adapting a Caddyfile that uses it), A gets the address of an in-process
// kfake broker (see clicks.go); otherwise the run says they are off.
//
// Everything it starts (Caddy processes, wrk, the broker) stops when it
// returns, fails or gets SIGINT/SIGTERM; the databases and Redis keys it
// made are removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	bin   string
	sizes []int
	// smartSizes are the sizes of the smart case (every link with rules
	// and a split); none when empty.
	smartSizes []int
	duration   time.Duration
	rounds     int
	threads    int
	conns      int
	// rate is the arrival rate of the open-loop passes (requests/s); 0:
	// none.
	rate   int
	clicks string // auto, on or off
	miss   bool
	// domainShare is the share of the links (0 to 1) on the custom
	// domain; the rest are on the own host.
	domainShare float64
	pin         bool
	verbose     bool
	keep        bool
	gogc        string
	postgres    string
	redis       string
	fill        string // fillHTTP or fillStart
}

func parseFlags() (config, error) {
	var c config
	var sizes, smartSizes string
	flag.StringVar(&c.bin, "bin", "bin/shortify", "the shortify binary (`make build` makes it)")
	flag.StringVar(&sizes, "sizes", "10000,1000000", "comma-separated numbers of links, one run each")
	flag.StringVar(&smartSizes, "smart-sizes", "1000000", "comma-separated numbers of links of the smart case (every link with three rules and a split), one run each after -sizes; empty: no smart case")
	flag.DurationVar(&c.duration, "duration", 8*time.Second, "length of one wrk run")
	flag.IntVar(&c.rounds, "rounds", 2, "wrk runs of each instance, interleaved A, B, A, B; the best run of each counts")
	flag.IntVar(&c.threads, "threads", 2, "wrk threads (-t)")
	flag.IntVar(&c.conns, "conns", 64, "wrk connections (-c), and the open-loop client's keep-alive connections")
	flag.IntVar(&c.rate, "rate", defaultOpenRate, "requests/s of the open-loop passes after the wrk runs of each size: A and B at this fixed arrival rate, -rounds interleaved passes of -duration each (after a warm-up), every request timed from its due time; 0: none")
	flag.StringVar(&c.clicks, "clicks", "auto", "click events to an in-process kfake broker: auto (on when the module has a Kafka option), on, off")
	flag.Float64Var(&c.domainShare, "domain-share", 0.5, "share of the links (0 to 1) on the custom domain "+customDomain+"; the rest are on the own host "+ownHost+", and each request has its link's Host")
	flag.BoolVar(&c.miss, "miss", true, "also measure the L1-miss paths (Redis hit, database hit) with the largest size")
	flag.BoolVar(&c.pin, "pin", false, "pin the Caddy instances to CPU 0 and wrk to CPU 1 (taskset), so the load generator cannot take the server's core")
	flag.BoolVar(&c.verbose, "v", false, "print wrk's own output and the instances' Caddyfiles")
	flag.StringVar(&c.gogc, "gogc", "", "GOGC of every instance (A, B and the miss paths alike: one binary, one setting); empty: inherited from this process")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory with the instances' logs (run with GODEBUG=gctrace=1 to read their garbage-collection cycles there)")
	flag.StringVar(&c.postgres, "postgres", envOr("SHORTIFY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "admin DSN of the PostgreSQL server (a fresh database is made per size)")
	flag.StringVar(&c.redis, "redis", envOr("SHORTIFY_TEST_REDIS", "127.0.0.1:6379"), "Redis address for the L2")
	flag.StringVar(&c.fill, "fill", fillHTTP, "how A's L1 is filled: "+fillHTTP+" (one GET per code, each an L1 miss that Redis answers) or "+fillStart+" (the edge's own warm start from a hot list of every code, against a redis-server the harness starts for the run: the fill that ten million links can afford)")
	flag.Parse()

	var err error
	if c.sizes, err = parseSizes(sizes); err != nil {
		return c, fmt.Errorf("-sizes: %w", err)
	}
	if len(c.sizes) == 0 {
		return c, errors.New("-sizes: at least one size")
	}
	if c.smartSizes, err = parseSizes(smartSizes); err != nil {
		return c, fmt.Errorf("-smart-sizes: %w", err)
	}
	switch {
	case c.duration < time.Second:
		return c, errors.New("-duration: at least 1s")
	case c.rounds < 1:
		return c, errors.New("-rounds: at least 1")
	case c.rate < 0:
		return c, errors.New("-rate: 0 (no open-loop pass) or more")
	case c.domainShare < 0 || c.domainShare > 1:
		return c, errors.New("-domain-share: from 0 to 1")
	case c.threads < 1 || c.conns < c.threads:
		return c, errors.New("-threads and -conns: at least one thread and one connection per thread")
	}
	switch c.fill {
	case fillHTTP, fillStart:
	default:
		return c, fmt.Errorf("-fill %q: want %s or %s", c.fill, fillHTTP, fillStart)
	}
	switch c.clicks {
	case "auto", "on", "off":
	default:
		return c, fmt.Errorf("-clicks %q: want auto, on or off", c.clicks)
	}
	// The instances run in directories of their own, so a relative path
	// would name nothing there.
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return c, fmt.Errorf("-bin %q: %w", c.bin, err)
	}
	c.bin = bin
	return c, nil
}

// parseSizes reads a comma-separated list of positive numbers; an empty
// (or blank) list is none.
func parseSizes(list string) ([]int, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var sizes []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge bench:", err)
		os.Exit(2)
	}
	// SIGINT and SIGTERM cancel ctx: every step stops and run's deferred
	// cleanups stop the processes and drop the data before main returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg)
	interrupted := ctx.Err() != nil // before stop, which cancels ctx too
	stop()
	if err != nil {
		if interrupted {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(os.Stderr, "edge bench: FAILED:", err)
		os.Exit(1)
	}
}
