//go:build faults

package disk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The fault's shape and bounds.
const (
	// tmpfsSize is the data directory's file system.
	tmpfsSize = 96 << 20
	// redirectRate and createRate are the loads, per second.
	redirectRate = 100
	createRate   = 5
	// preLinks are created (and followed once) before the disk fills.
	preLinks = 20
	// fullFor is how long the disk stays full once the node refuses
	// writes: a deliberate duration.
	fullFor = 10 * time.Second
	// refusedWithin bounds the first refusal after the disk is full, and
	// recoveredWithin the first acknowledged create after space returns.
	refusedWithin   = 90 * time.Second
	recoveredWithin = time.Minute
)

// TestFault09DiskFull fills the file system under a node's data
// directory (a small tmpfs) while links are created and followed, keeps
// it full, then frees the space: on the embedded default (SQLite links
// and stats, the Raft log and the broker's log, all under data_dir) and
// on a control plane whose links live in PostgreSQL and whose Raft log is
// on the tmpfs. While full, the node must refuse creates (and a Raft
// write, an API key) with a 5xx problem document that names the disk and
// log why; redirects must keep working, with no failure; once the space
// returns, creates must succeed again without a restart; every link the
// node acknowledged, before, during or after, must read back and
// redirect.
func TestFault09DiskFull(t *testing.T) {
	var figures []string
	t.Run("embedded", func(t *testing.T) {
		figures = append(figures, "embedded (SQLite, Raft, broker on the tmpfs): "+diskFull(t, func(t *testing.T) []string { return nil }))
	})
	t.Run("postgres", func(t *testing.T) {
		figures = append(figures, "PostgreSQL links, Raft log on the tmpfs: "+diskFull(t, func(t *testing.T) []string {
			broker := kafkatest.StartBroker(t, 4, "clicks", "shortify.link-events")
			return []string{
				"SHORTIFY_DATABASE_URL=" + testenv.Database(t),
				"SHORTIFY_STATS_DATABASE_URL=" + testenv.Schema(t),
				"SHORTIFY_KAFKA_EMBEDDED=off",
				"SHORTIFY_KAFKA_BROKERS=" + broker.Addr(),
			}
		}))
	})
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("the data directory's %d MiB tmpfs filled for %v at %d redirects/s and %d creates/s, then freed",
			tmpfsSize>>20, fullFor, redirectRate, createRate),
		Expected: "creates refused with 507 naming the full storage (a Raft write: 507, or stored when it fits); 0 failed redirects; 0 acknowledged links lost; creates again after the space returns, no restart",
		Measured: strings.Join(figures, "; "),
	})
}

// diskFull runs the fault on a node with the environment env returns and
// returns its figure.
func diskFull(t *testing.T, env func(t *testing.T) []string) string {
	work, err := os.MkdirTemp("", "shortify-fault09-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	fs := mountTmpfs(t, tmpfsSize)
	n := startNode(t, work, filepath.Join(fs.dir, "data"), env(t)...)
	pid := n.proc.Pid()
	ctx := t.Context()

	// Links made before, each followed once (so that the edge caches it).
	a := &acked{links: map[string]string{}}
	var pre []string
	for i := range preLinks {
		target := fmt.Sprintf("https://example.com/disk/pre/%d", i)
		status, code, body, err := n.create(ctx, target)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("create before the fault: %d %s %v", status, body, err)
		}
		a.add(code, target)
		pre = append(pre, code)
		if status, ok, err := n.redirect(ctx, code, target); err != nil || !ok {
			t.Fatalf("GET /%s: %d %v", code, status, err)
		}
	}

	// Redirects of those links, and creates, open loop.
	rng := rand.New(rand.NewPCG(91, 92))
	var rngMu sync.Mutex
	redirects := loadgen.Start(ctx, loadgen.Config{Rate: redirectRate}, func(ctx context.Context) (string, bool) {
		rngMu.Lock()
		code := pre[rng.IntN(len(pre))]
		rngMu.Unlock()
		status, ok, err := n.redirect(ctx, code, a.get(code))
		if err != nil {
			return "error", true
		}
		return strconv.Itoa(status), !ok
	})
	defer redirects.Stop()
	var seq atomic.Int64
	var phase atomic.Int32 // phaseBefore, phaseFull, phaseAfter
	refusals := &refusals{bodies: map[int]string{}}
	creates := loadgen.Start(ctx, loadgen.Config{Rate: createRate, Timeout: 20 * time.Second}, func(ctx context.Context) (string, bool) {
		target := fmt.Sprintf("https://example.com/disk/load/%d", seq.Add(1))
		status, code, body, err := n.create(ctx, target)
		switch {
		case err != nil:
			return "error", true
		case status == http.StatusCreated:
			a.add(code, target)
			return "201", false
		default:
			refusals.add(int(phase.Load()), status, body)
			return strconv.Itoa(status), true
		}
	})
	defer creates.Stop()
	testenv.WaitFor(t, "creates under load before the fault", time.Minute, func() bool { return creates.Ended() >= 2*createRate })
	before, createsBefore := redirects.Window(), creates.Window()
	t.Logf("before: redirects %s; creates %s", before, createsBefore)

	// The disk fills.
	phase.Store(phaseFull)
	filled := fs.fill(t)
	full := time.Now()
	t.Logf("filled the tmpfs with %d MiB; %d bytes free", filled>>20, fs.free(t))
	testenv.WaitFor(t, "a create refused on the full disk", refusedWithin, func() bool { return refusals.count(phaseFull) > 0 })
	refusedAfter := time.Since(full)
	// A Raft write: an API key.
	keyStatus, keyBody, err := n.do(ctx, "POST", "/api/v1/admin/keys", `{"name":"while-full","role":"viewer"}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create an API key while full: %d %s", keyStatus, keyBody)
	// The disk stays full for fullFor (deliberately), taking back any
	// space the node frees meanwhile.
	select {
	case <-time.After(fullFor):
	case <-ctx.Done():
		return ""
	}
	more := fs.fillMore(t)
	during, createsDuring := redirects.Window(), creates.Window()
	t.Logf("full for %v (refused after %v; took %d more bytes at the end): redirects %s; creates %s",
		time.Since(full).Round(time.Millisecond), refusedAfter.Round(time.Millisecond), more, during, createsDuring)

	// Space returns.
	phase.Store(phaseAfter)
	fs.release(t)
	released := time.Now()
	base := a.count()
	testenv.WaitFor(t, "a create acknowledged after the space returned", recoveredWithin, func() bool { return a.count() > base })
	recovered := time.Since(released)
	testenv.WaitFor(t, "creates after the recovery", time.Minute, func() bool { return creates.Ended() >= 2*createRate })
	redirects.Stop()
	creates.Stop()
	after, createsAfter := redirects.Window(), creates.Window()
	t.Logf("after (created again %v after the space returned): redirects %s; creates %s", recovered.Round(time.Millisecond), after, createsAfter)

	// The bounds.
	if n.proc.Pid() != pid || !running(n) {
		t.Errorf("the node did not survive: %v", n.proc.LogTail(3000))
	}
	for name, w := range map[string]loadgen.Stats{"before": before, "during": during, "after": after} {
		if w.Failures != 0 {
			t.Errorf("redirects %s the fault: %d failed: %v", name, w.Failures, w.Outcomes)
		}
	}
	keyOutcome := keyStatusOutcome(t, n, keyStatus, keyBody)
	if n := refusals.count(phaseBefore); n != 0 {
		t.Errorf("%d creates refused before the disk was full", n)
	}
	statuses, unclear := refusals.summary(phaseFull)
	for _, u := range unclear {
		t.Errorf("a create refused on the full disk does not name it: %s", u)
	}
	for status := range statuses {
		if status != http.StatusInsufficientStorage {
			t.Errorf("creates refused on the full disk with %d, want 507: %s", status, refusals.body(status))
		}
	}
	afterStatuses, _ := refusals.summary(phaseAfter)
	log := n.log()
	if !strings.Contains(log, "no space left on device") && !strings.Contains(log, "disk is full") {
		t.Errorf("the node's log never names the full disk")
	}
	lost := a.lost(t, n)
	if len(lost) != 0 {
		t.Errorf("%d acknowledged links lost: %v", len(lost), lost)
	}
	return fmt.Sprintf("creates refused %s (first %.1f s after the fill), API key %s; %d redirects while full, %d failed in all; %d links acknowledged, %d lost; creates again %.1f s after the space returned (refused meanwhile: %s)",
		formatStatuses(statuses), refusedAfter.Seconds(), keyOutcome, during.Requests, during.Failures+before.Failures+after.Failures,
		a.count(), len(lost), recovered.Seconds(), formatStatuses(afterStatuses))
}

func running(n *node) bool {
	exited, _ := n.proc.Exited()
	return !exited
}

// namesDisk reports whether a problem document says the disk is full.
func namesDisk(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "disk") || strings.Contains(b, "space")
}

// acked are the links the node acknowledged (201), code → target.
type acked struct {
	mu    sync.Mutex
	links map[string]string
}

func (a *acked) add(code, url string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.links[code] = url
}

func (a *acked) get(code string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.links[code]
}

func (a *acked) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.links)
}

// lost returns the acknowledged links that do not read back through the
// API or do not redirect to their target.
func (a *acked) lost(t *testing.T, n *node) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var lost []string
	for code, url := range a.links {
		status, body, err := n.do(t.Context(), "GET", "/api/v1/links/"+code, "")
		if err != nil || status != http.StatusOK || !strings.Contains(body, `"url":"`+url+`"`) {
			lost = append(lost, fmt.Sprintf("%s (API: %d %v)", code, status, err))
			continue
		}
		if st, ok, err := n.redirect(t.Context(), code, url); err != nil || !ok {
			lost = append(lost, fmt.Sprintf("%s (redirect: %d %v)", code, st, err))
		}
	}
	sort.Strings(lost)
	return lost
}

// The phases of the fault, for the refusals.
const (
	phaseBefore = iota
	phaseFull
	phaseAfter
	phases
)

// refusals are the creates answered other than 201, by phase and status.
type refusals struct {
	mu      sync.Mutex
	bodies  map[int]string // the first body of each status
	counts  [phases]map[int]int
	unclear [phases][]string
}

func (r *refusals) add(phase, status int, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts[phase] == nil {
		r.counts[phase] = map[int]int{}
	}
	r.counts[phase][status]++
	if _, ok := r.bodies[status]; !ok {
		r.bodies[status] = body
	}
	if !namesDisk(body) && len(r.unclear[phase]) < 5 {
		r.unclear[phase] = append(r.unclear[phase], fmt.Sprintf("%d %s", status, body))
	}
}

func (r *refusals) count(phase int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.counts[phase] {
		n += c
	}
	return n
}

func (r *refusals) body(status int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[status]
}

func (r *refusals) summary(phase int) (map[int]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]int{}
	for s, c := range r.counts[phase] {
		out[s] = c
	}
	return out, append([]string(nil), r.unclear[phase]...)
}

// keyStatusOutcome checks the API key created while the disk was full:
// refused with a 507 that names the disk, or created (the Raft log's
// bolt file reuses its free pages, so a small write may fit) and then
// listed like any key. It returns the outcome for the figure.
func keyStatusOutcome(t *testing.T, n *node, status int, body string) string {
	t.Helper()
	switch {
	case status == http.StatusCreated:
		st, list, err := n.do(t.Context(), "GET", "/api/v1/admin/keys", "")
		if err != nil || st != http.StatusOK || !strings.Contains(list, `"name":"while-full"`) {
			t.Errorf("the API key acknowledged on the full disk is not listed: %d %v %s", st, err, list)
			return "201, lost"
		}
		return "201 (stored)"
	case status == http.StatusInsufficientStorage && namesDisk(body):
		return "507"
	default:
		t.Errorf("an API key on the full disk: %d %s, want 507 naming the disk or 201", status, body)
		return strconv.Itoa(status)
	}
}

func formatStatuses(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for s, c := range m {
		parts = append(parts, fmt.Sprintf("%d×%d", c, s))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
