package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// Goals of issue 4: the shortify_edge handler at 90% or more of the static
// redirect's throughput, and its p99 within 1.2 times the static one's.
// Issue 16 adds the smart case, every link with three rules and a split:
// 80% or more of the static redirect's throughput (it sets no p99 goal).
const (
	goalThroughput      = 0.90
	goalP99             = 1.2
	goalSmartThroughput = 0.80
)

// Miss-path instances: an L1 so small and short-lived that nearly every
// request of a random code misses it.
const (
	missCacheSize = 100
	missCacheTTL  = "1ms"
)

// warmConns is the number of concurrent connections of the warm-up pass.
const warmConns = 64

// bench is one run of the harness: its settings and what every size shares.
type bench struct {
	cfg      config
	dir      string // temporary files: Caddyfiles, logs, codes, codes.lua
	wrk      wrkRun
	static   *instance // B, shared by every size
	prefix   string    // Redis key prefix of this run
	rdb      redis.UniversalClient
	kafkaOpt string // the module's Kafka option, "" when click events are off
	kafka    string // the broker's address
	results  []sizeResult
}

// sizeResult is what one size measured.
type sizeResult struct {
	links   int
	smart   bool // the smart case: every link with rules and a split
	load    string
	a, b    result
	c, d    *result     // miss paths (only for the size that measured them)
	open    *openResult // the open-loop passes, nil with -rate 0
	seeding time.Duration
	memory  string // the memory line, plain cases only
}

// caseName is how the run names a case: "plain" or "smart".
func caseName(smart bool) string {
	if smart {
		return "smart"
	}
	return "plain"
}

func run(ctx context.Context, cfg config) (err error) {
	if _, err := os.Stat(cfg.bin); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", cfg.bin, err)
	}
	for _, tool := range []string{"wrk", "taskset"} {
		if tool == "taskset" && !cfg.pin {
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (`scripts/ensure-debian-package.sh wrk wrk` installs wrk): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "shortify-bench-edge-")
	if err != nil {
		return err
	}
	defer func() {
		switch {
		case cfg.keep:
			fmt.Fprintf(os.Stderr, "edge bench: instance logs are in %s (kept: -keep)\n", dir)
			return
		case err != nil:
			fmt.Fprintf(os.Stderr, "edge bench: instance logs were in %s (removed)\n", dir)
		}
		os.RemoveAll(dir)
	}()
	script := filepath.Join(dir, "codes.lua")
	if err := os.WriteFile(script, codesLua, 0o644); err != nil {
		return err
	}

	if cfg.fill == fillStart {
		// The L2 and the hot list of every size live in a Redis of the
		// run's own: ten million keys do not belong in the shared one.
		rs, err := startRedis(ctx, dir)
		if err != nil {
			return err
		}
		defer rs.Kill()
		cfg.redis = rs.Addr
		fmt.Printf("fill: the edge's warm start (warm_count = links) from a hot list of every code, in a redis-server of the run's own on %s\n", rs.Addr)
	}
	b := &bench{
		cfg: cfg, dir: dir,
		wrk: wrkRun{threads: cfg.threads, conns: cfg.conns, duration: cfg.duration, script: script, pin: cfg.pin, verbose: cfg.verbose},
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	b.prefix = "shortify-bench-edge:" + hex.EncodeToString(rnd[:]) + ":"
	rdb := newRedis(cfg.redis)
	defer rdb.Close()
	b.rdb = rdb
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s (`make services` starts it): %w", cfg.redis, err)
	}
	defer func() {
		if cfg.fill == fillStart {
			return // the run's own redis-server goes, keys and all
		}
		if cerr := removeKeys(rdb, b.prefix); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	stopBroker, err := b.setUpClicks(ctx)
	if err != nil {
		return err
	}
	defer stopBroker()

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	b.static, err = startInstance(ctx, cfg.bin, dir, "B-static", addr, siteBlock(addr, staticRedirect), cfg.pin, cfg.gogc)
	if err != nil {
		return err
	}
	defer b.static.stop()

	largest := slices.Max(cfg.sizes)
	for i, n := range cfg.sizes {
		// The miss paths run once, with the largest size, the first time
		// it comes up.
		miss := cfg.miss && n == largest && slices.Index(cfg.sizes, n) == i
		if err := b.size(ctx, n, false, miss); err != nil {
			return fmt.Errorf("links=%d: %w", n, err)
		}
	}
	for _, n := range cfg.smartSizes {
		if err := b.size(ctx, n, true, false); err != nil {
			return fmt.Errorf("smart case, links=%d: %w", n, err)
		}
	}
	b.summary()
	return nil
}

// setUpClicks decides whether click events are on and, when they are,
// starts the broker. It prints the decision. The returned function stops
// the broker.
func (b *bench) setUpClicks(ctx context.Context) (stop func(), err error) {
	mode := fmt.Sprintf("wrk -t%d -c%d -d%s, %d interleaved round(s) (A, B, A, B, ...; the best run of each counts)",
		b.cfg.threads, b.cfg.conns, b.cfg.duration, b.cfg.rounds)
	if b.cfg.pin {
		mode += ", Caddy pinned to CPU 0 and wrk to CPU 1"
	}
	fmt.Println("edge bench:", mode)
	if r := b.cfg.rate; r > 0 {
		where := "the generator in this process, not pinned"
		if b.cfg.pin {
			where = "the generator in this process, pinned to CPU 1 during the passes"
		}
		fmt.Printf("open loop: %d req/s to A and B, %d interleaved pass(es) of %s each after a warm-up, %d keep-alive connections, %s; a pass with over %.0f%% of its requests started late does not count, one with over %.0f%% failed voids the comparison\n",
			r, b.cfg.rounds, b.cfg.duration, b.cfg.conns, where, 100*openLimit, 100*openLimit)
	}
	if b.cfg.clicks == "off" {
		fmt.Println("click events: off (-clicks=off)")
		return func() {}, nil
	}
	opt, err := probeKafkaOption(ctx, b.cfg.bin, b.dir)
	if err != nil {
		return nil, err
	}
	if opt == "" {
		if b.cfg.clicks == "on" {
			return nil, fmt.Errorf("-clicks=on: the shortify_edge directive has no Kafka option (tried %s)", strings.Join(kafkaOptionNames, ", "))
		}
		fmt.Println("click events: off (module has no kafka option yet)")
		return func() {}, nil
	}
	broker, err := startBroker()
	if err != nil {
		return nil, err
	}
	b.kafkaOpt, b.kafka = opt, broker.ListenAddrs()[0]
	fmt.Printf("click events: on (shortify %s %s: in-process kfake broker, topic %q, records acknowledged and discarded)\n", opt, b.kafka, clicksTopic)
	return broker.Close, nil
}

// size seeds n links, smart ones (every link with smartOptions) when
// smart is set, and measures A against B, then the miss paths when miss is
// set. Everything it starts stops when it returns.
func (b *bench) size(ctx context.Context, n int, smart, miss bool) error {
	gogc := b.cfg.gogc
	if gogc == "" {
		gogc = "inherited"
	}
	load := procs.LoadAverage()
	if smart {
		fmt.Printf("\nsmart case: links=%d, each with %d rules and a %d-way split (load average %s, GOGC of the instances: %s)\n",
			n, len(smartRules), len(smartTargets), load, gogc)
	} else {
		fmt.Printf("\nlinks=%d (load average %s, GOGC of the instances: %s)\n", n, load, gogc)
	}
	db, err := createDatabase(ctx, b.cfg.postgres)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.drop(); err != nil {
			fmt.Fprintln(os.Stderr, "edge bench:", err)
		}
	}()
	codes, err := makeCodes(n)
	if err != nil {
		return err
	}
	links := linkSet{domainShare: b.cfg.domainShare, smart: smart}
	db.links = links
	codesPath := filepath.Join(b.dir, fmt.Sprintf("codes-%s-%d.txt", caseName(smart), n))
	if err := writeCodes(codesPath, links, codes); err != nil {
		return err
	}
	tm, err := db.seed(ctx, codes)
	if err != nil {
		return err
	}
	seeding := tm.Copy + tm.Indexes + tm.Analyze
	fmt.Printf("  seeded %d links in %s (PostgreSQL COPY into a fresh database from %d connections %s, the other indexes built after it %s, ANALYZE %s: %.0f links/s)\n",
		n, seeding.Round(time.Millisecond), seedWorkers, tm.Copy.Round(time.Millisecond), tm.Indexes.Round(time.Millisecond),
		tm.Analyze.Round(time.Millisecond), float64(n)/seeding.Seconds())
	onDomain := 0
	for i := range codes {
		if links.onDomain(i) {
			onDomain++
		}
	}
	fmt.Printf("  %d links (%.0f%%) on the custom domain %s (workspace %d, verified in the edge's domain mirror), %d on the own host %s\n",
		onDomain, 100*float64(onDomain)/float64(n), customDomain, customWorkspace, n-onDomain, ownHost)

	// Each case and size has Redis keys of its own (under the run's
	// prefix, which the cleanup removes): a hot list or L2 entries left
	// by an earlier size must not mix with this one's.
	prefix := fmt.Sprintf("%s%s-%d:", b.prefix, caseName(smart), n)
	ttl := redisTTL
	if b.cfg.fill == fillStart {
		ttl = privateRedisTTL
	}
	took, err := prefillRedis(ctx, b.rdb, prefix, ttl, links, codes, warmConns)
	if err != nil {
		return err
	}
	fmt.Printf("  prefilled Redis with the %d links in %s (l2cache.Set, the control plane's write-through)\n", n, took.Round(time.Millisecond))

	opts := shortifyOptions{
		database: db.dsn, redis: b.cfg.redis, redisPrefix: prefix, ttl: ttl,
		cacheSize: max(n, 1000), cacheTTL: "1h", hosts: ownHost,
		kafkaOption: b.kafkaOpt, kafkaAddr: b.kafka,
	}
	name := fmt.Sprintf("A-shortify-%s-%d", caseName(smart), n)
	var a *instance
	var goalBefore float64
	if b.cfg.fill == fillStart {
		a, goalBefore, err = b.startWarm(ctx, name, opts, links, codes)
	} else {
		a, goalBefore, err = b.startAndGet(ctx, name, opts, links, codes, smart)
	}
	if a != nil {
		defer a.stop()
	}
	if err != nil {
		return err
	}

	res := sizeResult{links: n, smart: smart, load: load, seeding: seeding}
	var runsA, runsB []result
	for round := 1; round <= b.cfg.rounds; round++ {
		for _, s := range []struct {
			in   *instance
			runs *[]result
			name string
		}{{a, &runsA, "A shortify"}, {b.static, &runsB, "B static redir"}} {
			r, err := b.wrk.run(ctx, s.in, codesPath)
			if err != nil {
				return err
			}
			*s.runs = append(*s.runs, r)
			fmt.Printf("  %-16s run %d: %s\n", s.name, round, describe(r))
		}
	}
	res.a, res.b = best(runsA), best(runsB)
	fmt.Printf("  %-16s best  : %s\n", "A shortify", describe(res.a))
	fmt.Printf("  %-16s best  : %s\n", "B static redir", describe(res.b))
	fmt.Println("  " + ratioLine(n, smart, res.a, res.b))
	if b.cfg.rate > 0 {
		o := openLoop{rate: b.cfg.rate, duration: b.cfg.duration, conns: b.cfg.conns, pin: b.cfg.pin}
		open, err := o.compare(ctx, os.Stdout, n, smart, b.cfg.rounds, a, b.static, links, codes)
		if err != nil {
			return err
		}
		res.open = &open
	}
	if gogc, ok := gogcPercent(b.cfg.gogc); ok && !smart {
		goalAfter, err := liveHeap(ctx, a)
		if err != nil {
			return err
		}
		res.memory = memoryLine(n, goalBefore, goalAfter, gogc, meanURLLen(links, codes))
		fmt.Println("  " + res.memory)
	}
	fmt.Println("  " + shareLine(append(runsA, runsB...)))

	if miss {
		a.stop() // its L1 would only take memory from the miss instances
		if err := b.missPaths(ctx, opts, links, codes, codesPath, &res); err != nil {
			return err
		}
	}
	b.results = append(b.results, res)
	return nil
}

// start starts a shortify instance with the given site body, with its
// admin endpoint on (the harness collects garbage through it).
func (b *bench) start(ctx context.Context, name, body string) (*instance, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cf := withAdmin(siteBlock(addr, body), admin)
	if b.cfg.verbose {
		fmt.Printf("--- %s Caddyfile\n%s", name, cf)
	}
	return startInstance(ctx, b.cfg.bin, b.dir, name, addr, cf, b.cfg.pin, b.cfg.gogc)
}

// missPaths measures the L1-miss paths with the links just seeded: C
// (tiny L1, the prefilled Redis) and D (tiny L1, no Redis).
func (b *bench) missPaths(ctx context.Context, opts shortifyOptions, links linkSet, codes []string, codesPath string, res *sizeResult) error {
	fmt.Printf("  L1-miss paths: cache_size %d, cache_ttl %s, random codes of all %d (so nearly every request misses L1)\n",
		missCacheSize, missCacheTTL, len(codes))
	present, err := countPresent(ctx, b.rdb, opts.redisPrefix, links, codes, 1000)
	if err != nil {
		return err
	}
	fmt.Printf("  Redis holds %d of 1000 sampled codes\n", present)
	if present != 1000 {
		return fmt.Errorf("redis holds %d of 1000 sampled codes, want all", present)
	}

	opts.cacheSize, opts.cacheTTL = missCacheSize, missCacheTTL
	noRedis := opts
	noRedis.redis = ""
	for _, m := range []struct {
		name string
		opts shortifyOptions
		dst  **result
	}{{"C L1 miss, Redis hit", opts, &res.c}, {"D L1 miss, database hit", noRedis, &res.d}} {
		in, err := b.start(ctx, strings.Fields(m.name)[0]+"-miss", m.opts.body())
		if err != nil {
			return err
		}
		if err := preflight(ctx, in.addr, links, codes); err != nil {
			in.stop()
			return fmt.Errorf("%s: %w", in.name, err)
		}
		r, err := b.wrk.run(ctx, in, codesPath)
		in.stop()
		note := ""
		switch {
		case errors.Is(err, errBadAnswers):
			// A miss path may answer a few 503s when a lookup outlives
			// the module's 2 s lookup timeout on a loaded machine: the
			// figure still counts, with the errors shown beside it.
			note = fmt.Sprintf("  ERRORS: %v", r.errors)
		case err != nil:
			return err
		}
		*m.dst = &r
		fmt.Printf("  %-24s: %s%s (%.1f%% on the custom domain)\n", m.name, describe(r), note, 100*r.customShare())
	}
	return nil
}

// newRedis is the harness's own Redis client. Not l2cache.NewClient: its
// timeouts are made for the redirect path, too short for deleting a
// million keys on a busy machine.
func newRedis(addr string) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:       strings.Split(addr, ","),
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		PoolSize: warmConns,
	})
}

// countPresent counts how many of a sample of codes have a Redis key.
// The key is the one the edge reads: host and code (l2cache.Key).
func countPresent(ctx context.Context, rdb redis.UniversalClient, prefix string, links linkSet, codes []string, sample int) (int, error) {
	l2 := l2cache.New(rdb, prefix, redisTTL)
	step := max(len(codes)/sample, 1)
	pipe := rdb.Pipeline()
	var cmds []*redis.IntCmd
	for i := 0; i < len(codes) && len(cmds) < sample; i += step {
		l := links.link(i, codes[i])
		cmds = append(cmds, pipe.Exists(ctx, l2.Key(l.Domain, l.Code)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redis: check the warmed keys: %w", err)
	}
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, nil
}

// removeKeys deletes every key of this run from Redis. It runs during
// cleanup, so it has a context of its own.
func removeKeys(rdb redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return fmt.Errorf("redis: remove the benchmark's keys: %w", err)
			}
		}
	}
	if err := errors.Join(iter.Err(), flush()); err != nil {
		return fmt.Errorf("redis: remove the benchmark's keys: %w", err)
	}
	return nil
}
