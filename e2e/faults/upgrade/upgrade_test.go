//go:build faults

package upgrade

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/release"
	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// oldCommit is the release the stack starts on: the last commit before
// issue 18's work (b889d23). Move it forward to the last release
// deployed when a release changes what nodes exchange.
const oldCommit = "b889d23e490ebaf0ebcd8d78ae623236a16a1374"

// The load through the whole upgrade, both through the front door:
// redirects of the links made before it (under the edges' per-client
// limit of 100/s, which the test's one address shares) and creates.
const (
	redirectRate = 40
	createRate   = 4
	// createTimeout bounds one create with the client's retries (three,
	// each after a Retry-After of a second or two).
	createTimeout = 45 * time.Second
	// linksBefore are made before the upgrade; the redirect load follows
	// them.
	linksBefore = 200
	// followRate paces the final walk over every link (the edges' limit
	// again).
	followRate = 60
)

// Bounds of the waits.
const (
	buildWithin = 30 * time.Minute // a cold build of both releases
	startWithin = 3 * time.Minute  // the stack
	// stepWithin bounds one node's replacement: stopped, started on the
	// new binary, ready, and the rest of the stack settled around it.
	stepWithin = 2 * time.Minute
	// countedWithin bounds every click reaching the stats.
	countedWithin = time.Minute
	// clicksPartitions is the clicks topic's partitions
	// (internal/testkit/stack/kafka.Caddyfile).
	clicksPartitions = 4
)

// step is one node replaced.
type step struct {
	node string
	took time.Duration
	// cpu is the CPU time the new process had used when it was ready.
	cpu time.Duration
	// redirectsFailed, createsFailed are the failures while it was
	// replaced.
	redirectsFailed, createsFailed int
}

// TestMain removes the working tree's binary (testenv.Shortify) after the
// tests.
func TestMain(m *testing.M) { testenv.Main(m) }

// TestFault13RollingUpgrade starts the production-shaped stack on the
// release oldCommit, puts redirects and creates through its front door,
// and replaces every process but the front door and the engines with the
// working tree's binary, one at a time in the order of docs/operations.md
// ("Upgrading"): the control-plane followers, then the leader, each ready
// and the cluster settled (one leader, three voters, the log applied)
// before the next; then the edges, each back in the front door's rotation
// before the next; then the stats instances, each back in the consumer
// group before the next. It asserts 0 failed redirects, 0 creates failed
// beyond the client's retries, every acknowledged link redirecting
// afterwards (and in the database), no code or link ID twice, the
// migrations tables' rows applied once (those there before unchanged, any
// new one applied during the upgrade), the key ring unchanged, every node
// reporting the new release's Raft command version, and every click
// answered counted once by the stats.
func TestFault13RollingUpgrade(t *testing.T) {
	root := testenv.RepoRoot()
	old, cur := buildReleases(t, root)
	oldVersion, err := sourceCommandVersion(old.Source)
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, old)
	ctx := t.Context()
	admin, err := client.New(s.FrontDoor.URL, client.WithAPIKey(s.APIKey))
	if err != nil {
		t.Fatal(err)
	}

	// Before: links to redirect, the stats group whole, and what the
	// upgrade must leave as it is.
	var links []client.Link
	for i := range linksBefore {
		l, err := admin.CreateLink(ctx, client.CreateLinkRequest{URL: fmt.Sprintf("https://example.com/before/%d", i)})
		if err != nil {
			t.Fatalf("create link %d before the upgrade: %v", i, err)
		}
		links = append(links, *l)
	}
	waitGroup(t, s, "both stats instances sharing the clicks partitions")
	keysBefore, err := admin.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	linkDB, statsDB := s.Primary.DSN(stack.LinkDatabase), s.Primary.DSN(stack.StatsDatabase)
	migLinks, err := migrationTables(ctx, linkDB)
	if err != nil {
		t.Fatal(err)
	}
	migStats, err := migrationTables(ctx, statsDB)
	if err != nil {
		t.Fatal(err)
	}
	viewsBefore, err := clusterViews(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	versionsBefore := commandVersions(viewsBefore, oldVersion)
	t.Logf("before: Raft command versions %v (the release at %s applies %d), migrations tables %d + %d",
		versionsBefore, oldCommit[:7], oldVersion, len(migLinks), len(migStats))

	// The load, through the whole upgrade.
	rd := newRedirects(s.FrontDoor.URL, links)
	cr, err := newCreates(s.FrontDoor.URL, s.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	// As many in flight as can be within a timeout: the generator drops
	// none, so every request is an answer or a failure of the stack's.
	rl := loadgen.Start(ctx, loadgen.Config{Rate: redirectRate, MaxInFlight: redirectRate * 5}, rd.request)
	cl := loadgen.Start(ctx, loadgen.Config{Rate: createRate, Timeout: createTimeout,
		MaxInFlight: createRate * int(createTimeout/time.Second)}, cr.request)
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			rl.Stop()
			cl.Stop()
		}
	}
	defer stopLoad()
	// A few seconds of load on the old release first, for comparison.
	testenv.WaitFor(t, "5 s of load before the upgrade", time.Minute, func() bool { return rl.Ended() >= 5*redirectRate })
	phase := func(name string) {
		t.Logf("%s: redirects %v", name, rl.Window())
		t.Logf("%s: creates %v", name, cl.Window())
	}
	phase("before the upgrade")

	began := time.Now()
	var steps []step
	var failedSoFar [2]int // redirects, creates
	replace := func(n *stack.Node, settle func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepWithin)
		defer cancel()
		t0 := time.Now()
		if err := s.Replace(sctx, n, cur.Binary, cur.Caddyfiles()); err != nil {
			t.Fatal(err)
		}
		ready := time.Since(t0)
		cpu := cpuTime(n.Pid())
		if err := settle(sctx); err != nil {
			t.Fatalf("after replacing %s: %v", n.Name, err)
		}
		st := step{node: n.Name, took: time.Since(t0), cpu: cpu}
		rd.mu.Lock()
		st.redirectsFailed = rd.failed - failedSoFar[0]
		failedSoFar[0] = rd.failed
		rd.mu.Unlock()
		cr.mu.Lock()
		st.createsFailed = cr.failed - failedSoFar[1]
		failedSoFar[1] = cr.failed
		cr.mu.Unlock()
		steps = append(steps, st)
		t.Logf("replaced %s: ready after %v (%v of CPU), settled after %v; failed meanwhile: %d redirects, %d creates",
			n.Name, ready.Round(time.Millisecond), cpu.Round(time.Millisecond), st.took.Round(time.Millisecond), st.redirectsFailed, st.createsFailed)
		phase("while replacing " + n.Name)
	}

	// The control plane: followers first, the leader last.
	leader, err := s.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	order := slices.DeleteFunc(slices.Clone(s.Nodes), func(n *stack.Node) bool { return n == leader })
	order = append(order, leader)
	leaders := []string{leader.Name}
	settleCluster := func(ctx context.Context) error {
		var prev []clusterView
		err := poll(ctx, "the cluster to settle", func(ctx context.Context) error {
			views, err := clusterViews(ctx, s)
			if err != nil {
				return err
			}
			if prev == nil {
				prev = views
				return fmt.Errorf("a first look")
			}
			err = settled(prev, views)
			prev = views
			return err
		})
		if err == nil {
			if id := prev[0].info.LeaderID; id != leaders[len(leaders)-1] {
				leaders = append(leaders, id)
			}
		}
		return err
	}
	for _, n := range order {
		replace(n, settleCluster)
	}
	// The edges, one at a time, each back in the front door's rotation
	// before the next stops.
	for _, n := range s.Edges {
		replace(n, func(ctx context.Context) error { return s.FrontDoorChecked(ctx, n) })
	}
	// The stats instances, each back in the consumer group before the
	// next stops.
	for _, n := range s.Stats {
		replace(n, func(ctx context.Context) error {
			return poll(ctx, "both stats instances sharing the clicks partitions", func(ctx context.Context) error {
				return groupWhole(ctx, s)
			})
		})
	}
	upgraded := time.Since(began)

	// A few more seconds of load on the new release, then the figures.
	rl.Window()
	testenv.WaitFor(t, "5 s of load after the upgrade", time.Minute, func() bool { return rl.Ended() >= 5*redirectRate })
	phase("after the upgrade")
	stopLoad()

	for _, n := range slices.Concat(s.Nodes, s.Edges, s.Stats) {
		if n.Binary() != cur.Binary {
			t.Errorf("%s still runs %s", n.Name, n.Binary())
		}
	}
	rd.mu.Lock()
	if rd.failed > 0 {
		t.Errorf("%d redirects failed during the upgrade; the first: %s", rd.failed, strings.Join(rd.details, "\n\t"))
	}
	rd.mu.Unlock()
	cr.mu.Lock()
	if cr.failed > 0 {
		t.Errorf("%d creates failed beyond the client's retries; the first: %s", cr.failed, strings.Join(cr.details, "\n\t"))
	}
	acked := slices.Clone(cr.acked)
	cr.mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no create was acknowledged during the upgrade")
	}

	// Every acknowledged link is in the database and redirects; no code
	// or ID was issued twice.
	all := slices.Concat(links, acked)
	checkUnique(t, all)
	checkStored(t, linkDB, all)
	followAll(t, s, rd, all)

	// What must not have moved: the key ring (the nodes restart with
	// SHORTIFY_INITIAL_API_KEY set), the migrations applied before.
	keysAfter, err := admin.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keysAfter) != len(keysBefore) {
		t.Errorf("the key ring went from %d to %d keys", len(keysBefore), len(keysAfter))
	}
	migLinksAfter, err := migrationTables(ctx, linkDB)
	if err != nil {
		t.Fatal(err)
	}
	migStatsAfter, err := migrationTables(ctx, statsDB)
	if err != nil {
		t.Fatal(err)
	}
	added := checkMigrations(t, stack.LinkDatabase, migLinks, migLinksAfter, began) +
		checkMigrations(t, stack.StatsDatabase, migStats, migStatsAfter, began)
	viewsAfter, err := clusterViews(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	versionsAfter := commandVersions(viewsAfter, 0)
	for node, v := range versionsAfter {
		if v != currentCommandVersion {
			t.Errorf("%s reports Raft command version %d after the upgrade, want %d", node, v, currentCommandVersion)
		}
	}

	// Every click answered is counted once.
	countedIn := waitCounted(t, admin, rd)

	rd.mu.Lock()
	var redirectsOK int64
	for _, n := range rd.answered {
		redirectsOK += n
	}
	redirectsFailed := rd.failed
	rd.mu.Unlock()
	cr.mu.Lock()
	defer cr.mu.Unlock()
	var per, failedIn []string
	for _, st := range steps {
		per = append(per, fmt.Sprintf("%s %.1f", st.node, st.took.Seconds()))
		if st.redirectsFailed+st.createsFailed > 0 {
			failedIn = append(failedIn, fmt.Sprintf("%s %d+%d", st.node, st.redirectsFailed, st.createsFailed))
		}
	}
	if len(failedIn) == 0 {
		failedIn = []string{"none"}
	}
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("rolling upgrade %s → working tree, node by node (control-plane followers, leader, 2 edges, 2 stats) at %d redirects/s + %d creates/s through the front door",
			oldCommit[:7], redirectRate, createRate),
		Expected: "0 failed redirects; 0 creates failed beyond the client's retries; every acknowledged link redirects; 0 duplicate codes; migrations applied once; every click counted once",
		Measured: fmt.Sprintf("creates %d ok (%d after a retry, %d answers retried %v), %d failed; redirects %d ok, %d failed (failed redirects+creates while replacing: %s); s per node: %s (upgrade %.0f s, leaders %s); migrations added %d, command version %d→%d; clicks exact within %.1f s",
			len(cr.acked), cr.retried, cr.retries, cr.retryStatuses, cr.failed, redirectsOK, redirectsFailed, strings.Join(failedIn, ", "),
			strings.Join(per, ", "), upgraded.Seconds(), strings.Join(leaders, "→"), added,
			versionsBefore[leader.Name], versionsAfter[leader.Name], countedIn.Seconds()),
	})
}

// buildReleases builds the release at oldCommit (cached) and the working
// tree's binary (testenv.Shortify).
func buildReleases(t *testing.T, root string) (old, cur release.Release) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), buildWithin)
	defer cancel()
	cache, err := release.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if old, err = release.Build(ctx, root, cache, oldCommit); err != nil {
		t.Fatalf("the release to upgrade from: %v", err)
	}
	t.Logf("release %s: %s (%v)", oldCommit[:7], old.Binary, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	cur = release.Release{Binary: testenv.Shortify(t), Source: root}
	t.Logf("working tree: %s (%v)", cur.Binary, time.Since(began).Round(time.Millisecond))
	return old, cur
}

// startStack starts the stack on release r and stops it when the test
// ends, with the ends of the logs when it failed.
func startStack(t *testing.T, r release.Release) *stack.Stack {
	t.Helper()
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL runs as the postgres user when the tests run as root.
	dir := testenv.PublicTempDir(t, "shortify-upgrade-")
	ctx, cancel := context.WithTimeout(t.Context(), startWithin)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{
		Dir: filepath.Join(dir, "stack"), Binary: r.Binary, Caddyfiles: r.Caddyfiles(), Ports: ports, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("start the stack on %s: %v", oldCommit[:7], err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range slices.Concat([]*stack.Node{s.FrontDoor}, s.Nodes, s.Edges, s.Stats, []*stack.Node{s.Kafka}) {
				t.Logf("--- %s log (end):\n%s", n.Name, n.LogTail())
			}
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
	})
	return s
}

// groupWhole fails unless both stats instances share the clicks
// partitions.
func groupWhole(ctx context.Context, s *stack.Stack) error {
	parts, err := s.GroupPartitions(ctx, stack.StatsGroup, "clicks")
	if err != nil {
		return err
	}
	if len(parts) != 2 || parts[0] == 0 || parts[1] == 0 || parts[0]+parts[1] != clicksPartitions {
		return fmt.Errorf("partitions per member %v", parts)
	}
	return nil
}

// waitGroup waits until both stats instances share the partitions.
func waitGroup(t *testing.T, s *stack.Stack, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stepWithin)
	defer cancel()
	if err := poll(ctx, what, func(ctx context.Context) error { return groupWhole(ctx, s) }); err != nil {
		t.Fatal(err)
	}
}

// poll calls cond every 100 ms until it returns nil or ctx ends; the
// error then carries cond's last.
func poll(ctx context.Context, what string, cond func(ctx context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := cond(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// checkUnique fails the test on a code or a link ID acknowledged twice.
func checkUnique(t *testing.T, links []client.Link) {
	t.Helper()
	codes, ids := map[string]string{}, map[string]string{}
	for _, l := range links {
		if prev, dup := codes[l.Code]; dup {
			t.Errorf("code %s acknowledged twice: for %s and %s", l.Code, prev, l.URL)
		}
		codes[l.Code] = l.URL
		if prev, dup := ids[l.ID]; dup {
			t.Errorf("link ID %s acknowledged twice: for %s and %s", l.ID, prev, l.URL)
		}
		ids[l.ID] = l.URL
	}
}

// checkStored fails the test unless every link is in the link database
// with its target.
func checkStored(t *testing.T, dsn string, links []client.Link) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	codes := make([]string, len(links))
	for i, l := range links {
		codes[i] = l.Code
	}
	rows, err := conn.Query(ctx, "SELECT code, url FROM links WHERE domain = '' AND code = ANY($1)", codes)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	var code, url string
	if _, err := pgx.ForEachRow(rows, []any{&code, &url}, func() error { stored[code] = url; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if got, ok := stored[l.Code]; !ok || got != l.URL {
			t.Errorf("link %s (%s) acknowledged, in the database as %q (present: %v)", l.Code, l.URL, got, ok)
		}
	}
}

// followAll follows every link once, through the front door and each
// edge in turn, at followRate: each must redirect to its target. The
// redirects answered count as clicks in rd.
func followAll(t *testing.T, s *stack.Stack, rd *redirects, links []client.Link) {
	t.Helper()
	via := slices.Concat([]*stack.Node{s.FrontDoor}, s.Edges)
	// A pace, not a wait: the edges limit the test's one address.
	tick := time.NewTicker(time.Second / followRate)
	defer tick.Stop()
	bad := 0
	for i, l := range links {
		<-tick.C
		n := via[i%len(via)]
		status, loc, err := get(t.Context(), n.URL+"/"+l.Code)
		if err != nil || status != http.StatusFound || loc != l.URL {
			bad++
			if bad <= maxDetails {
				t.Errorf("after the upgrade, GET %s/%s (%s) = %d to %q, %v; want 302 to %s", n.URL, l.Code, n.Name, status, loc, err, l.URL)
			}
			continue
		}
		rd.mu.Lock()
		rd.answered[l.Code]++
		rd.mu.Unlock()
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged links do not redirect after the upgrade", bad, len(links))
	}
	t.Logf("after the upgrade: %d links redirect through %d entry points", len(links), len(via))
}

// waitCounted waits until the stats count every link's clicks: at least
// the redirects answered, at most those plus the ones whose answer the
// stopped load never read; more is a click counted twice. It returns how
// long that took.
func waitCounted(t *testing.T, c *client.Client, rd *redirects) time.Duration {
	t.Helper()
	rd.mu.Lock()
	want := make(map[string][2]int64, len(rd.answered))
	for code, n := range rd.answered {
		want[code] = [2]int64{n, n + rd.ambiguous[code]}
	}
	rd.mu.Unlock()
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), countedWithin)
	defer cancel()
	pending := make([]string, 0, len(want))
	for code := range want {
		pending = append(pending, code)
	}
	slices.Sort(pending)
	err := poll(ctx, "every click counted", func(ctx context.Context) error {
		for len(pending) > 0 {
			code := pending[0]
			st, err := c.LinkStats(ctx, code, client.StatsQuery{})
			if err != nil {
				return err
			}
			got, w := st.Totals.Clicks, want[code]
			if got > w[1] {
				t.Fatalf("link %s counted %d clicks; %d answered (%d more may have been): counted twice", code, got, w[0], w[1]-w[0])
			}
			if got < w[0] {
				return fmt.Errorf("link %s: %d of %d clicks counted (%d links to go)", code, got, w[0], len(pending))
			}
			pending = pending[1:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("every click of %d links counted once within %v", len(want), took.Round(time.Millisecond))
	return took
}

// cpuTime is the CPU time (user and system) process pid has used, from
// /proc; zero where that cannot be read.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second).
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
