// Command sizing measures the figures docs/sizing.md builds on that need no
// load test: disk per link and per stats row (PostgreSQL, with indexes),
// PostgreSQL block reads per link lookup on a table larger than
// shared_buffers, Redis memory per cached link and CPU per GET, and the
// embedded broker's CPU per click event. Each part runs against a
// process of its own (a fresh database, a Redis server, a broker child
// process) so that the CPU and memory deltas are its alone.
//
//	go run ./bench/sizing                 # every part (make bench-sizing)
//	go run ./bench/sizing -parts redis    # one part
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// options are the command's flags.
type options struct {
	parts    []string
	links    int // links seeded into PostgreSQL
	lookups  int // PostgreSQL lookups measured
	aggLinks int // links that the stats events spread over
	events   int // click events for the stats rows and the broker
	redis    int // links written to Redis
	gets     int // Redis GETs measured
	admin    string
}

var allParts = []string{"links", "stats", "model", "redis", "broker"}

func main() {
	if len(os.Args) > 1 && os.Args[0] != "" && os.Args[1] == brokerChildArg {
		if err := runBrokerChild(); err != nil {
			fmt.Fprintln(os.Stderr, "sizing broker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var parts string
	flag.StringVar(&parts, "parts", strings.Join(allParts, ","), "parts to run, comma-separated: "+strings.Join(allParts, ", "))
	flag.IntVar(&o.links, "links", 2_000_000, "links seeded into PostgreSQL (the table must outgrow shared_buffers for the block reads to mean anything)")
	flag.IntVar(&o.lookups, "lookups", 20_000, "PostgreSQL lookups of random codes measured")
	flag.IntVar(&o.aggLinks, "stats-links", 200_000, "links the click events of the stats part spread over (Zipf s=1.1)")
	flag.IntVar(&o.events, "events", 1_000_000, "click events written into the stats rows and produced to the broker")
	flag.IntVar(&o.redis, "redis-links", 200_000, "links written to Redis as the product writes them")
	flag.IntVar(&o.gets, "gets", 200_000, "Redis GETs measured")
	flag.StringVar(&o.admin, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL maintenance database (a database of the run's own is created and dropped)")
	flag.Parse()
	o.parts = strings.Split(parts, ",")
	for _, p := range o.parts {
		if !slices.Contains(allParts, p) {
			fmt.Fprintf(os.Stderr, "sizing: unknown part %q (want some of %s)\n", p, strings.Join(allParts, ", "))
			os.Exit(2)
		}
	}
	if o.links < 1000 || o.lookups < 1 || o.aggLinks < 10 || o.events < 1000 || o.redis < 1000 || o.gets < 1 {
		fmt.Fprintln(os.Stderr, "sizing: -links, -redis-links and -events must be at least 1000, the other counts positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "sizing:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	fmt.Printf("sizing: %s, load average %s\n", time.Now().UTC().Format(time.RFC3339), procs.LoadAverage())
	for _, p := range o.parts {
		var err error
		switch p {
		case "links":
			err = measureLinks(ctx, o)
		case "stats":
			err = measureStats(ctx, o)
		case "model":
			err = measureModel(ctx, o)
		case "redis":
			err = measureRedis(ctx, o)
		case "broker":
			err = measureBroker(ctx, o)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	fmt.Printf("sizing: done, load average %s\n", procs.LoadAverage())
	return nil
}

// mib formats bytes.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
