package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/stack"
)

// Bounds of the run's phases.
const (
	startTimeout   = 5 * time.Minute
	replicaTimeout = 5 * time.Minute
	probeWithin    = time.Minute
	clicksWithin   = 3 * time.Minute
	checkConns     = 32
	// idleWindow is how long the stack's CPU at rest is measured.
	idleWindow = 10 * time.Second
)

// run starts the stack, seeds it, loads it, checks it and prints the
// report; the stack stops whatever happens.
func run(ctx context.Context, cfg config) (err error) {
	begin := time.Now()
	log.Printf("loadtest: %d links, %d requests/s for %v after %v of warm-up, %s start; machine: %d CPUs, load average %s",
		cfg.links, cfg.rate, cfg.duration, cfg.warmup, cfg.start, runtime.NumCPU(), procs.LoadAverage())
	// The codes while the stack starts: an AES permutation each.
	type made struct {
		c   *codes
		err error
	}
	codesCh := make(chan made, 1)
	go func() {
		c, err := makeSeedCodes(cfg.links, 2)
		codesCh <- made{c, err}
	}()

	ports, err := stack.FreePorts()
	if err != nil {
		return err
	}
	if err := procs.RemoveServerDirs(cfg.dir); err != nil {
		return err
	}
	if err := os.RemoveAll(cfg.dir); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	s, err := stack.Start(sctx, stack.Config{Dir: cfg.dir, Binary: cfg.bin, Caddyfiles: cfg.caddyfiles, Ports: ports, Env: warmEnv(cfg.start), Logf: log.Printf})
	cancel()
	if err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	defer func() {
		log.Print("loadtest: stopping the stack")
		err = errors.Join(err, s.Stop())
	}()
	m := <-codesCh
	if m.err != nil {
		return m.err
	}
	c := m.c

	dsn := s.Primary.DSN(stack.LinkDatabase)
	t0 := time.Now()
	base := time.Now().Add(-30 * 24 * time.Hour)
	if err := seed(ctx, dsn, c, cfg.seedWorkers, base); err != nil {
		return err
	}
	seedTook := time.Since(t0)
	if err := waitReplica(ctx, dsn, s.Replica.DSN(stack.LinkDatabase)); err != nil {
		return err
	}
	log.Printf("loadtest: seeded %d links by COPY in %v (%.0f links/s), on the replica after %v",
		cfg.links, seedTook.Round(time.Millisecond), float64(cfg.links)/seedTook.Seconds(), time.Since(t0).Round(time.Millisecond))

	startLine := "Start: cold. The caches were empty: the L2 and the L1s filled on misses during the run."
	if cfg.start == startWarm {
		if startLine, err = primeCaches(ctx, s, cfg.caddyfiles, c, base); err != nil {
			return err
		}
		log.Printf("loadtest: %s", startLine)
	}

	key, err := creatorKey(ctx, s)
	if err != nil {
		return err
	}
	tr := &traffic{
		client: newClientPool(cfg.conns, 1), checks: newClientPool(checkConns, 2), front: s.FrontDoor.URL, key: key, codes: c,
		zipf: newZipf(cfg.links, cfg.zipfS, uint64(time.Now().UnixNano())),
		seen: make([]atomic.Int64, cfg.track), unanswered: make([]atomic.Int64, cfg.track),
	}
	defer tr.client.closeIdle()
	defer tr.checks.closeIdle()
	probes, err := probeLinks(ctx, tr, cfg.probes)
	if err != nil {
		return err
	}

	// The stack's CPU at rest (Raft heartbeats, health checks, the
	// consumers' polls, the engines' own timers), so that the table can
	// tell what the requests cost from what the stack costs anyway.
	roles := cpuRoles(s)
	idle0, err := sampleCPU(roles)
	if err != nil {
		return err
	}
	log.Printf("loadtest: the stack at rest, %v", idleWindow)
	if err := loadgen.Sleep(ctx, idleWindow); err != nil {
		return err
	}
	idle1, err := sampleCPU(roles)
	if err != nil {
		return err
	}

	// Warm-up, then the measured window.
	loads := startLoads(ctx, tr, cfg.rate)
	defer loads.stop()
	if cfg.warmup > 0 {
		log.Printf("loadtest: warm-up, %v", cfg.warmup)
		if err := loadgen.Sleep(ctx, cfg.warmup); err != nil {
			return err
		}
	}
	warm := loads.window()
	log.Printf("loadtest: warm-up redirects: %s", warm.redirect)
	edges := func() (promtest.Page, error) {
		all := promtest.Page{}
		for _, e := range s.Edges {
			c, err := promtest.Get(ctx, nil, e.Ops+"/metrics", "shortify_edge_")
			if err != nil {
				return nil, err
			}
			all.Add(c)
		}
		return all, nil
	}
	cpu0, err := sampleCPU(roles)
	if err != nil {
		return err
	}
	machine0, err := readMachineCPU()
	if err != nil {
		return err
	}
	metrics0, err := edges()
	if err != nil {
		return err
	}
	log.Printf("loadtest: measuring, %v", cfg.duration)
	var wg sync.WaitGroup
	var delays []time.Duration
	var probeErrs []error
	var mu sync.Mutex
	wg.Go(func() {
		for i, code := range probes {
			if loadgen.Sleep(ctx, cfg.duration/time.Duration(len(probes)+1)) != nil {
				return
			}
			wg.Go(func() {
				d, err := tr.probe(ctx, key, code, probeWithin)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					probeErrs = append(probeErrs, err)
					return
				}
				log.Printf("loadtest: probe %d: click on the dashboard after %v", i+1, d.Round(time.Millisecond))
				delays = append(delays, d)
			})
		}
	})
	profSecs := min(cfg.profileSeconds, int(cfg.duration.Seconds()/3))
	profDir := filepath.Join(cfg.dir, "profiles")
	profiles := []struct{ name, admin string }{
		{"edge1", adminAddr(s.Edges[0].URL, ports.EdgeAdmin)},
		{"frontdoor", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.FrontDoorAdmin))},
	}
	profErrs := make([]error, len(profiles))
	wg.Go(func() {
		if loadgen.Sleep(ctx, cfg.duration/2-time.Duration(profSecs)*time.Second/2) != nil {
			return
		}
		var pw sync.WaitGroup
		for i, p := range profiles {
			pw.Go(func() { profErrs[i] = cpuProfile(ctx, p.admin, profSecs, filepath.Join(profDir, p.name+".pprof")) })
		}
		pw.Wait()
	})
	if err := loadgen.Sleep(ctx, cfg.duration); err != nil {
		return err
	}
	win := loads.window()
	cpu1, err := sampleCPU(roles)
	if err != nil {
		return err
	}
	machine1, err := readMachineCPU()
	if err != nil {
		return err
	}
	metrics1, err := edges()
	if err != nil {
		return err
	}
	loadAvgEnd := procs.LoadAverage()
	wg.Wait()
	loads.stop()
	log.Printf("loadtest: redirects %s", win.redirect)
	log.Printf("loadtest: creates   %s", win.create)
	log.Printf("loadtest: API reads %s", win.read)

	// The end: every acknowledged create redirects, every click of the
	// tracked links and probes is counted once.
	created := tr.createdLinks()
	log.Printf("loadtest: following %d acknowledged creates", len(created))
	createsOK, createErr := tr.checkCreates(ctx, created, checkConns)
	if createErr != nil {
		log.Printf("loadtest: creates: %v", createErr)
	}
	want := map[string]clicksOf{}
	for i := range tr.seen {
		want[c.At(i)] = clicksOf{tr.seen[i].Load(), tr.unanswered[i].Load()}
	}
	for _, code := range probes {
		want[code] = clicksOf{Seen: 1} // each probed once; a failed probe shows as a mismatch
	}
	log.Printf("loadtest: waiting for the stats to count the clicks of %d links", len(want))
	clicks := tr.checkClicks(ctx, key, want, clicksWithin)

	r := results{
		Rate: cfg.rate, Window: win.redirect.Duration,
		Requests: win.requests(), Failures: win.failures(), Late: win.late(),
		P50: win.redirect.P50, P95: win.redirect.P95, P99: win.redirect.P99,
		Hits: hitsOf(metrics1.Sub(metrics0)), Delays: delays, Probes: len(probes),
		Creates: len(created), CreatesOK: createsOK, Clicks: clicks,
		CPU: cpu1.sub(cpu0), Idle: idle1.sub(idle0), IdleWindow: idleWindow,
		CPUs: runtime.NumCPU(), Busy: machine1.busyShare(machine0),
	}
	r.Answered = win.answered()
	r.RPS = float64(r.Answered) / r.Window.Seconds()
	for _, ro := range roles {
		r.CPUOrder = append(r.CPUOrder, ro.name)
	}
	// The L1's size as the edges report it (cache_size; the Caddyfile
	// keeps the module's default).
	l1 := int(metrics1["shortify_edge_l1_capacity"]) / len(s.Edges)
	var out strings.Builder
	rows := r.rows()
	fmt.Fprintf(&out, "\n## loadtest, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&out, "%d links (Zipf s=%.2f: the L1's %d hottest get %.1f%% of redirects), %d requests/s offered for %v after %v of warm-up; "+
		"machine: %d CPUs, %s memory, load average %s at the end (other work on the machine shows in it).\n\n",
		cfg.links, cfg.zipfS, l1, 100*zipfShare(l1, cfg.links, cfg.zipfS),
		cfg.rate, cfg.duration, cfg.warmup, runtime.NumCPU(), memTotal(), loadAvgEnd)
	out.WriteString(startLine + "\n\n")
	out.WriteString(table(rows))
	fmt.Fprintf(&out, "\nCreates: %s\nAPI reads: %s\n\nCPU by role over the measured %v (/proc/PID/stat; PostgreSQL and its backends, primary and replica):\n\n",
		win.create, win.read, r.Window.Round(time.Second))
	out.WriteString(r.cpuTable())
	out.WriteString("\n" + r.bound() + "\n")
	out.WriteString("\nHottest functions (CPU profiles from the Caddy admin endpoint, /debug/pprof/profile, mid-run):\n\n")
	for i, p := range profiles {
		if profErrs[i] != nil {
			fmt.Fprintf(&out, "%s: no profile: %v\n", p.name, profErrs[i])
			continue
		}
		top, err := topFunctions(ctx, filepath.Join(profDir, p.name+".pprof"), 12)
		if err != nil {
			fmt.Fprintf(&out, "%s: %v\n", p.name, err)
			continue
		}
		fmt.Fprintf(&out, "%s (%ds):\n\n%s\n\n", p.name, profSecs, top)
	}
	for _, e := range probeErrs {
		fmt.Fprintf(&out, "probe: %v\n", e)
	}
	if createErr != nil {
		fmt.Fprintf(&out, "creates: %v\n", createErr)
	}
	fmt.Fprintf(&out, "whole run %v\n", time.Since(begin).Round(time.Second))
	report := out.String()
	if err := os.WriteFile(filepath.Join(cfg.dir, "report.md"), []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Print(report)
	fmt.Println(r.lastLine(rows))
	return nil
}

// loads are the three open-loop loads of the mix.
type loads struct {
	redirect, create, read *loadgen.Load
	once                   sync.Once
}

// startLoads starts the mix at rate requests/s: 1% creates, 1% API reads,
// the rest redirects. Each request runs to its end (or its own timeout)
// even when the load stops, so that a redirect the stack served is one
// the generator saw, for the exactly-once check.
func startLoads(ctx context.Context, tr *traffic, rate int) *loads {
	detach := func(f loadgen.Request) loadgen.Request {
		return func(ctx context.Context) (string, bool) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return f(ctx)
		}
	}
	side := max(1, rate/100)
	return &loads{
		redirect: loadgen.Start(ctx, loadgen.Config{Rate: rate - 2*side}, detach(tr.redirect)),
		create:   loadgen.Start(ctx, loadgen.Config{Rate: side}, detach(tr.create)),
		read:     loadgen.Start(ctx, loadgen.Config{Rate: side}, detach(tr.read)),
	}
}

// windows are the three loads' figures over one window.
type windows struct{ redirect, create, read loadgen.Stats }

func (l *loads) window() windows {
	return windows{l.redirect.Window(), l.create.Window(), l.read.Window()}
}

func (l *loads) stop() {
	l.once.Do(func() {
		var wg sync.WaitGroup
		for _, x := range []*loadgen.Load{l.redirect, l.create, l.read} {
			wg.Go(x.Stop)
		}
		wg.Wait()
	})
}

func (w windows) all() []loadgen.Stats { return []loadgen.Stats{w.redirect, w.create, w.read} }

func (w windows) requests() (n int) {
	for _, s := range w.all() {
		n += s.Requests
	}
	return n
}

func (w windows) failures() (n int) {
	for _, s := range w.all() {
		n += s.Failures
	}
	return n
}

func (w windows) late() (n int) {
	for _, s := range w.all() {
		n += s.Late
	}
	return n
}

// answered counts the requests the stack answered, with any status: not
// those dropped for too many in flight, nor those that failed or timed out
// without an answer.
func (w windows) answered() (n int) {
	for _, s := range w.all() {
		n += s.Requests - s.Outcomes["dropped"] - s.Outcomes["error"]
	}
	return n
}

// cpuRoles are the stack's processes by role, and the generator.
func cpuRoles(s *stack.Stack) []role {
	pids := func(nodes ...*stack.Node) []int {
		var p []int
		for _, n := range nodes {
			p = append(p, n.Pid())
		}
		return p
	}
	var redis []int
	for _, r := range s.Redis.Servers {
		redis = append(redis, r.Pid())
	}
	return []role{
		{name: "edges (2)", pids: pids(s.Edges...)},
		{name: "front door", pids: pids(s.FrontDoor)},
		{name: "Redis Cluster (6)", pids: redis},
		{name: "PostgreSQL (primary + replica)", pids: []int{s.Primary.Pid(), s.Replica.Pid()}},
		{name: "broker", pids: pids(s.Kafka)},
		{name: "control plane (3)", pids: pids(s.Nodes...)},
		{name: "stats (2)", pids: pids(s.Stats...)},
		{name: "generator (this process)", pids: []int{os.Getpid()}, alone: true},
	}
}

// adminAddr is the Caddy admin address of a node whose public URL is
// base: the same host, the admin port.
func adminAddr(base string, port int) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
}

// waitReplica waits until the replica has replayed the primary's WAL as
// of now: the edges read links from it.
func waitReplica(ctx context.Context, primary, replica string) error {
	ctx, cancel := context.WithTimeout(ctx, replicaTimeout)
	defer cancel()
	var lsn string
	if err := queryRow(ctx, primary, "SELECT pg_current_wal_lsn()::text", nil, &lsn); err != nil {
		return fmt.Errorf("primary's WAL position: %w", err)
	}
	return procs.Poll(ctx, "the replica at "+lsn, 200*time.Millisecond, nil, func(ctx context.Context) error {
		var ok bool
		if err := queryRow(ctx, replica, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", []any{lsn}, &ok); err != nil {
			return err
		}
		if !ok {
			return errors.New("behind")
		}
		return nil
	})
}

// queryRow runs one query on a connection of its own.
func queryRow(ctx context.Context, dsn, sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

// creatorKey makes a creator key of the default workspace (where the
// seeded links are) and waits until every control-plane node knows it.
func creatorKey(ctx context.Context, s *stack.Stack) (string, error) {
	var key struct {
		Key string `json:"key"`
	}
	if err := s.API(ctx, s.APIKey, "POST", "/api/v1/admin/keys", `{"name":"loadtest creator","role":"creator"}`, http.StatusCreated, &key); err != nil {
		return "", fmt.Errorf("creator key: %w", err)
	}
	for _, n := range s.Nodes {
		err := procs.Poll(ctx, n.Name+" knowing the creator key", 50*time.Millisecond, nil, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/api/v1/links?limit=1", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+key.Key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return key.Key, nil
}

// probeLinks creates n links that only the click-to-dashboard probes ask
// for.
func probeLinks(ctx context.Context, tr *traffic, n int) ([]string, error) {
	var codes []string
	for range n {
		outcome, failed := tr.create(ctx)
		if failed {
			return nil, fmt.Errorf("create a probe link: %s", outcome)
		}
	}
	for _, l := range tr.createdLinks() {
		codes = append(codes, l.Code)
	}
	tr.mu.Lock()
	tr.created = nil // not the run's creates; the probes check them
	tr.mu.Unlock()
	return codes, nil
}

// memTotal is /proc/meminfo's MemTotal, in GiB.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return fmt.Sprintf("%.0f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}
