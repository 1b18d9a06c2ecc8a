// Command loadtest measures the plan's targets on the production-shaped
// stack (internal/testkit/stack: PostgreSQL primary and replica, a Redis
// Cluster, the broker, three control-plane nodes, two edges, the front
// door, two stats instances, each a process of its own): it seeds millions
// of links by COPY, drives the front door open-loop with a day's mix
// (redirects of Zipf-drawn codes, creates and API reads, clicks flowing
// into the stats) for a bounded time, and prints the plan's targets beside
// the measured figures, the CPU each role spent per 1000 requests and the
// hottest functions of an edge and the front door. `make loadtest` runs
// it; docs/loadtest.md explains the figures.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// config is a run's settings.
type config struct {
	bin, dir, caddyfiles string
	start                string
	duration, warmup     time.Duration
	rate, links          int
	zipfS                float64
	conns                int
	probes               int
	track                int
	seedWorkers          int
	profileSeconds       int
}

// envInt and envDuration read an environment default for a flag.
func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a whole number", name, v)
	}
	return n, nil
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration (5m, 90s)", name, v)
	}
	return d, nil
}

// parseConfig reads the flags, whose defaults come from LOADTEST_DURATION,
// LOADTEST_RATE, LOADTEST_LINKS, LOADTEST_WARMUP and LOADTEST_START.
func parseConfig(args []string) (config, error) {
	var c config
	duration, err1 := envDuration("LOADTEST_DURATION", 5*time.Minute)
	warmup, err2 := envDuration("LOADTEST_WARMUP", 30*time.Second)
	rate, err3 := envInt("LOADTEST_RATE", 10_000)
	links, err4 := envInt("LOADTEST_LINKS", 10_000_000)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return c, err
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "bin/shortify", "the shortify binary (make build)")
	fs.StringVar(&c.dir, "dir", "data/loadtest", "directory of the stack's processes, logs and the profiles (emptied at start)")
	fs.StringVar(&c.caddyfiles, "caddyfiles", "deploy/caddyfiles", "directory of the role Caddyfiles, used unchanged")
	fs.DurationVar(&c.duration, "duration", duration, "measured time under load (LOADTEST_DURATION)")
	fs.DurationVar(&c.warmup, "warmup", warmup, "time under the same load before it, not measured: the caches fill (LOADTEST_WARMUP)")
	fs.IntVar(&c.rate, "rate", rate, "arrival rate, requests/s: 98% redirects, 1% creates, 1% API reads (LOADTEST_RATE)")
	fs.IntVar(&c.links, "links", links, "links seeded by COPY (LOADTEST_LINKS)")
	fs.StringVar(&c.start, "start", cmp.Or(os.Getenv("LOADTEST_START"), startWarm), "how the caches start: "+startWarm+
		" (every link in the L2 and each edge's L1 loaded with the hottest by its warm start: a day's steady state) or "+startCold+" (empty: a new fleet) (LOADTEST_START)")
	fs.Float64Var(&c.zipfS, "zipf-s", 1.1, "Zipf exponent of the redirects' codes (> 1)")
	fs.IntVar(&c.conns, "conns", 256, "the generator's clients, each a loopback address of its own with up to 4 connections, taken in turn")
	fs.IntVar(&c.probes, "probes", 6, "click-to-dashboard probes during the measured time")
	fs.IntVar(&c.track, "track", 50, "most popular links whose clicks are checked against the stats, exactly")
	fs.IntVar(&c.seedWorkers, "seed-workers", 4, "COPY connections side by side")
	fs.IntVar(&c.profileSeconds, "profile-seconds", 15, "CPU profile length (edge and front door), mid-run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.duration < 10*time.Second:
		return c, fmt.Errorf("duration %v: at least 10s", c.duration)
	case c.warmup < 0:
		return c, fmt.Errorf("warmup %v: must not be negative", c.warmup)
	case c.rate < 100:
		return c, fmt.Errorf("rate %d: at least 100 requests/s (1%% of them are creates)", c.rate)
	case c.links < 1000:
		return c, fmt.Errorf("links %d: at least 1000", c.links)
	case c.start != startWarm && c.start != startCold:
		return c, fmt.Errorf("start %q: %s or %s", c.start, startWarm, startCold)
	case c.zipfS <= 1:
		return c, fmt.Errorf("zipf-s %v: must be above 1", c.zipfS)
	case c.conns < 1 || c.probes < 1 || c.seedWorkers < 1 || c.profileSeconds < 1:
		return c, errors.New("conns, probes, seed-workers and profile-seconds must be at least 1")
	case c.track < 1 || c.track > c.links:
		return c, fmt.Errorf("track %d: between 1 and the link count", c.track)
	}
	return c, nil
}

func main() {
	// Plain lines on standard error: a Caddy package this imports sends
	// the standard logger to its own JSON log when it is initialised.
	log.SetOutput(os.Stderr)
	log.SetFlags(log.Ltime)
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
}
