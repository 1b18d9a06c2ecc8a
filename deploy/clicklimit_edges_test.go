package deploy_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clicklimit"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// clickLimit is the max_clicks of the links TestClickLimitThroughEdges
// clicks, and clickRequests how many GETs the first round sends at once.
const (
	clickLimit    = 100
	clickRequests = 300
)

// TestClickLimitThroughEdges is issue 16's exact click limit with two
// real edges (edge.Caddyfile in Caddy processes of their own) and a
// control plane process on the same link database, on every backend the
// counter has: PostgreSQL only (the counter in the primary), PostgreSQL
// with Redis (the counter in Redis: the edges' redis option), and SQLite
// (the embedded default's store; the edges and the control plane share
// the file; edges without Redis run edge.Caddyfile with its rate_limit
// per edge, since shared needs Redis). A link with max_clicks 100 gets 300 concurrent GETs split
// over both edges, from many clients: exactly 100 redirects, the rest
// 410. Then two more links are clicked while one edge goes down in the
// middle of the clicks and is restarted on its port. Stopped as a
// supervisor stops it (SIGTERM: Caddy finishes the requests it has):
// exactly 100 redirects again. Killed (SIGKILL, a crash): never more than
// 100 redirects, the counter at exactly 100, and no click lost but those
// the kill cut off in flight (a click claimed whose redirect the dead
// edge never sent).
func TestClickLimitThroughEdges(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"postgres", "postgres+redis", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r := &clickRig{t: t, backend: backend}
			switch backend {
			case "sqlite":
				r.dsn = "sqlite://" + filepath.Join(t.TempDir(), "links.db")
			default:
				r.dsn = testenv.Schema(t)
			}
			if backend == "postgres+redis" {
				// A database of the shared test Redis that few tests use
				// (the others use 0), on top of codes, client addresses
				// and link IDs of this run's own: the edges' L2 keys,
				// shared rate limits and click counters stay apart.
				r.redis = fmt.Sprintf("redis://%s/%d", testenv.RedisAddr(t), 1+rand.IntN(15))
			}
			r.start()
			r.exactRound()
			r.restartRound(false)
			r.restartRound(true)
			t.Logf("%s: done in %v", backend, time.Since(r.begin).Round(time.Millisecond))
		})
	}
}

// clickRig is one backend's control plane and two edges.
type clickRig struct {
	t        *testing.T
	backend  string
	dsn      string
	redis    string // the edges' redis option; "" for none
	begin    time.Time
	api      apiClient
	adminKey string
	edgeFile string
	edgeEnv  map[string]string
	edges    [2]*caddyProcess
	// net is the first two bytes of this run's client addresses.
	net    [2]byte
	client *http.Client
}

func (r *clickRig) start() {
	t := r.t
	r.begin = time.Now()
	dns := newDNSRelay(t)
	dns.serve(t, nil)
	initial, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	r.adminKey = initial.Secret
	cpFile := filepath.Join(t.TempDir(), "controlplane.Caddyfile")
	if err := os.WriteFile(cpFile, []byte(onDemandControlPlane), 0o644); err != nil {
		t.Fatal(err)
	}
	cp := runCaddy(t, cpFile, map[string]string{
		"SHORTIFY_DATA_DIR":        t.TempDir(),
		"SHORTIFY_RAFT_BIND":       testenv.FreeAddr(t),
		"SHORTIFY_DATABASE_URL":    r.dsn,
		"SHORTIFY_INITIAL_API_KEY": r.adminKey,
		"SHORTIFY_RESOLVER":        dns.addr,
	})
	r.api = apiClient{t: t, base: "http://" + cp.Public}
	testenv.WaitFor(t, "the control plane ready", 30*time.Second, func() bool {
		resp, err := http.Get(r.api.base + "/api/v1/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The edges after the control plane, which migrated the database.
	r.edgeEnv = map[string]string{"SHORTIFY_DATABASE_URL": r.dsn, "SHORTIFY_REDIS": r.redis}
	r.edgeFile = edgeRole
	if r.redis == "" {
		r.edgeFile = edgeRoleWithoutRedis(t)
	}
	for i := range r.edges {
		r.edges[i] = runCaddy(t, r.edgeFile, r.edgeEnv)
	}
	r.net = [2]byte{byte(rand.IntN(256)), byte(rand.IntN(256))}
	r.client = &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: noRedirects.CheckRedirect,
		Transport:     &http.Transport{MaxIdleConnsPerHost: clickRequests},
	}
	t.Cleanup(r.client.CloseIdleConnections)
	t.Logf("%s: a control plane and two edges up in %v", r.backend, time.Since(r.begin).Round(time.Millisecond))
}

// edgeRoleWithoutRedis is edge.Caddyfile for edges without Redis: its
// rate_limit is per edge instead of shared (shared needs Redis), and
// nothing else changes.
func edgeRoleWithoutRedis(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(edgeRole)
	if err != nil {
		t.Fatal(err)
	}
	const shared, perEdge = "rate_limit 100/s burst 200 shared\n", "rate_limit 100/s burst 200\n"
	if !strings.Contains(string(b), shared) {
		t.Fatalf("%s has no %q: update this test's copy without Redis", edgeRole, strings.TrimSpace(shared))
	}
	path := filepath.Join(t.TempDir(), "edge.Caddyfile")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), shared, perEdge, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// limitedLink makes a link with max_clicks clickLimit and returns its
// path on the edges and its ID.
func (r *clickRig) limitedLink() (string, int64) {
	alias := "limit-" + randomLabel(r.t)
	var l struct{ ID string }
	r.api.call(r.adminKey, "POST", "/api/v1/links",
		fmt.Sprintf(`{"url":"https://%s/drop","alias":"%s","max_clicks":%d}`, onDemandTarget, alias, clickLimit),
		http.StatusCreated, &l)
	id, err := strconv.ParseInt(l.ID, 10, 64)
	if err != nil {
		r.t.Fatalf("the link's id %q: %v", l.ID, err)
	}
	return "/" + alias, id
}

// clickTally counts the answers of a round's GETs.
type clickTally struct {
	redirects, gone, cut atomic.Int64
	// perEdge and goneEdge count each edge's redirects and 410s.
	perEdge, goneEdge [2]atomic.Int64
	mu                sync.Mutex
	other             []string
}

// click sends one GET for path to edge e as client number i (behind the
// front door: the edges trust X-Forwarded-For from loopback, and each
// client has its own rate limit) and tallies the answer. A request that
// gets no answer (the edge was killed) counts as cut.
func (r *clickRig) click(tally *clickTally, e int, path string, i int) {
	addr := r.edges[e].Public
	req, err := http.NewRequestWithContext(r.t.Context(), http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		r.t.Errorf("GET %s: %v", path, err)
		return
	}
	req.Header.Set("User-Agent", fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 client/%d", i))
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", r.net[0], r.net[1], i%50))
	resp, err := r.client.Do(req)
	if err != nil {
		tally.cut.Add(1)
		return
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == "https://"+onDemandTarget+"/drop":
		tally.redirects.Add(1)
		tally.perEdge[e].Add(1)
	case resp.StatusCode == http.StatusGone:
		tally.gone.Add(1)
		tally.goneEdge[e].Add(1)
	default:
		tally.mu.Lock()
		tally.other = append(tally.other, fmt.Sprintf("edge %d: %d Location %q", e, resp.StatusCode, resp.Header.Get("Location")))
		tally.mu.Unlock()
	}
}

// burst sends n GETs for path at once, client i (from first on) to edge
// edgeOf(i), and returns when every one has its answer.
func (r *clickRig) burst(tally *clickTally, path string, first, n int, edgeOf func(i int) int) {
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := first; i < first+n; i++ {
		wg.Go(func() {
			<-ready
			r.click(tally, edgeOf(i), path, i)
		})
	}
	close(ready)
	wg.Wait()
}

// alternate sends client i to edge i%2.
func alternate(i int) int { return i % 2 }

// exactRound: 300 concurrent GETs over both edges, exactly 100 redirects.
func (r *clickRig) exactRound() {
	t := r.t
	path, id := r.limitedLink()
	var tally clickTally
	began := time.Now()
	r.burst(&tally, path, 0, clickRequests, alternate)
	took := time.Since(began)
	if len(tally.other) > 0 || tally.cut.Load() > 0 {
		t.Fatalf("%d answers neither a redirect nor 410, %d without an answer: %v", len(tally.other), tally.cut.Load(), tally.other)
	}
	if got := tally.redirects.Load(); got != clickLimit || tally.gone.Load() != clickRequests-clickLimit {
		t.Fatalf("%d concurrent GETs of a link with max_clicks %d over two edges: %d redirects, %d 410s; want exactly %d and %d",
			clickRequests, clickLimit, got, tally.gone.Load(), clickLimit, clickRequests-clickLimit)
	}
	if n := r.counted(id); n != clickLimit {
		t.Fatalf("the counter holds %d clicks, want exactly %d", n, clickLimit)
	}
	// Each edge's own account: every redirect a claimed click, every
	// 410 a claim refused (not some other way to gone), no errors.
	for e, p := range r.edges {
		m := clickLimitMetrics(t, p)
		if m["claimed"] != tally.perEdge[e].Load() || m["exhausted"] != tally.goneEdge[e].Load() || m["error"] != 0 {
			t.Fatalf("edge %d: shortify_edge_click_limit_total %v, but it answered %d redirects and %d 410s",
				e+1, m, tally.perEdge[e].Load(), tally.goneEdge[e].Load())
		}
	}
	r.wantExhausted(path)
	t.Logf("%s: %d concurrent GETs in %v: %d redirects (edge 1 %d, edge 2 %d), %d 410s",
		r.backend, clickRequests, took.Round(time.Millisecond), tally.redirects.Load(),
		tally.perEdge[0].Load(), tally.perEdge[1].Load(), tally.gone.Load())
}

// restartRound: a burst of GETs over both edges in which edge 2 goes
// down once the clients have seen 30 redirects (killed when crash, else
// stopped gracefully), then edge 2 restarted on its ports, then the rest
// of the GETs over both. Never more than the limit, the counter exactly
// at it, and no click lost but in a crash, to the GETs it cut off.
func (r *clickRig) restartRound(crash bool) {
	t := r.t
	how := "stopped (SIGTERM)"
	if crash {
		how = "killed (SIGKILL)"
	}
	path, id := r.limitedLink()
	var tally clickTally
	// Too few GETs before the restart to spend the limit, so that the
	// restarted edge claims clicks too.
	const before, downAt = 60, 30

	// A few clients, each clicking one GET after the other, so that
	// GETs keep coming while the edge goes down: the one that sees the
	// 30th redirect has it taken down, and the others go on.
	const clients = 6
	var once sync.Once
	var atDown int64
	graceful := true
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < before; i = int(next.Add(1)) - 1 {
				r.click(&tally, i%2, path, i)
				if n := tally.redirects.Load(); n >= downAt {
					once.Do(func() {
						atDown = n
						wg.Go(func() {
							if crash {
								r.edges[1].Kill()
							} else {
								graceful = r.edges[1].Stop()
							}
						})
					})
				}
			}
		})
	}
	wg.Wait()
	if atDown == 0 {
		t.Fatalf("%d GETs brought %d redirects, fewer than the %d to stop the edge at", before, tally.redirects.Load(), downAt)
	}
	if !graceful {
		t.Fatalf("edge 2 did not exit within 30 s of SIGTERM")
	}
	cut := tally.cut.Load()
	redirectsBefore := tally.redirects.Load()

	// The same edge again, on the same ports, as a supervisor restarts it.
	_, port, _ := net.SplitHostPort(r.edges[1].Public)
	_, ops, _ := net.SplitHostPort(r.edges[1].Ops)
	env := map[string]string{"SHORTIFY_PORT": port, "SHORTIFY_OPS_PORT": ops}
	for k, v := range r.edgeEnv {
		env[k] = v
	}
	restarted := time.Now()
	r.edges[1] = runCaddy(t, r.edgeFile, env)
	restartTook := time.Since(restarted)
	r.client.CloseIdleConnections() // those to the old edge are dead

	// The restarted edge first, alone: at least 40 clicks are left, so
	// each of these GETs must redirect; then the rest over both edges.
	const first = 10
	var after clickTally
	r.burst(&after, path, before, first, func(int) int { return 1 })
	if n := after.redirects.Load(); n != first {
		t.Fatalf("the restarted edge redirected %d of %d GETs with at least %d clicks left (%d 410s, %d cut, %v)",
			n, first, clickLimit-before, after.gone.Load(), after.cut.Load(), after.other)
	}
	r.burst(&after, path, before+first, clickRequests-before-first, alternate)
	if others := append(tally.other, after.other...); len(others) > 0 {
		t.Fatalf("%d answers neither a redirect nor 410: %v", len(others), others)
	}
	if n := after.cut.Load(); n > 0 {
		t.Fatalf("%d GETs without an answer after the restart", n)
	}
	got := redirectsBefore + after.redirects.Load()
	switch {
	case got > clickLimit:
		t.Fatalf("a link with max_clicks %d redirected %d times with edge 2 %s and restarted (%d before, %d after: edge 1 %d, edge 2 %d)",
			clickLimit, got, how, redirectsBefore, after.redirects.Load(), after.perEdge[0].Load(), after.perEdge[1].Load())
	case !crash && got != clickLimit:
		// Every GET the stopping edge took it answered; the others it
		// refused before reading them, so they claimed nothing.
		t.Fatalf("%d redirects with edge 2 stopped gracefully and restarted, want exactly %d (%d GETs refused while it stopped)", got, clickLimit, cut)
	case got < clickLimit-cut:
		// A GET the kill cut may have claimed its click before the edge
		// died: that click is spent without a redirect, and nothing else is.
		t.Fatalf("%d redirects and %d GETs cut by the kill: %d clicks of %d lost", got, cut, clickLimit-got-cut, clickLimit)
	}
	if n := r.counted(id); n != clickLimit {
		t.Fatalf("the counter holds %d clicks, want exactly %d", n, clickLimit)
	}
	r.wantExhausted(path)
	t.Logf("%s: edge 2 %s when the clients had seen %d redirects (%d GETs without an answer), restarted in %v; %d redirects in all (%d before the restart; after it edge 1 %d, the restarted edge 2 %d)",
		r.backend, how, atDown, cut, restartTook.Round(time.Millisecond), got, redirectsBefore, after.perEdge[0].Load(), after.perEdge[1].Load())
}

// clickLimitMetrics scrapes an edge's shortify_edge_click_limit_total by
// outcome.
func clickLimitMetrics(t *testing.T, p *caddyProcess) map[string]int64 {
	t.Helper()
	resp, err := http.Get("http://" + p.Ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %v", p.Ops, resp.StatusCode, err)
	}
	out := map[string]int64{}
	const name = `shortify_edge_click_limit_total{outcome="`
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		outcome, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", p.Ops, line, err)
		}
		out[outcome] = int64(v)
	}
	return out
}

// counted reads the link's click counter where the edges keep it: in
// Redis under the edges' default prefix, else in the link database.
func (r *clickRig) counted(id int64) int64 {
	t := r.t
	var counter clicklimit.Counter
	if r.redis != "" {
		client, err := l2cache.NewClientWith(r.redis, l2cache.CounterTimeouts) // as the edges count: patient, not the cache's 100 ms
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		counter = clicklimit.NewRedis(client, l2cache.DefaultPrefix)
	} else {
		st, err := backend.Open(t.Context(), linkstore.Config{DSN: r.dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		counter = clicklimit.NewStore(st)
	}
	n, err := counter.Counted(t.Context(), id)
	if err != nil {
		t.Fatalf("read the click counter: %v", err)
	}
	return n
}

// wantExhausted checks that both edges now answer 410 for path.
func (r *clickRig) wantExhausted(path string) {
	r.t.Helper()
	for e := range r.edges {
		var tally clickTally
		r.click(&tally, e, path, 1000+e)
		if tally.gone.Load() != 1 {
			r.t.Fatalf("edge %d after the limit: %d redirects %v, want 410", e+1, tally.redirects.Load(), tally.other)
		}
	}
}
