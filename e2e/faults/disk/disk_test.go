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
	refusedWithin   = time.Minute
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
		Expected: "creates and Raft writes refused with a 5xx naming the disk; 0 failed redirects; 0 acknowledged links lost; creates again after the space returns, no restart",
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
			refusals.add(status, body)
			return strconv.Itoa(status), true
		}
	})
	defer creates.Stop()
	testenv.WaitFor(t, "creates under load before the fault", time.Minute, func() bool { return creates.Ended() >= 2*createRate })
	before, createsBefore := redirects.Window(), creates.Window()
	t.Logf("before: redirects %s; creates %s", before, createsBefore)

	// The disk fills.
	filled := fs.fill(t)
	full := time.Now()
	t.Logf("filled the tmpfs with %d MiB; %d bytes free", filled>>20, fs.free(t))
	testenv.WaitFor(t, "a create refused on the full disk", refusedWithin, func() bool { return refusals.count() > 0 })
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
	if keyStatus < 500 {
		t.Errorf("an API key created on a full disk: %d %s, want a 5xx", keyStatus, keyBody)
	} else if !namesDisk(keyBody) {
		t.Errorf("the refused API key's problem does not name the disk: %d %s", keyStatus, keyBody)
	}
	statuses, unclear := refusals.summary()
	for _, u := range unclear {
		t.Errorf("a refused create does not name the disk: %s", u)
	}
	for status := range statuses {
		if status != http.StatusInsufficientStorage && status != http.StatusServiceUnavailable {
			t.Errorf("creates refused with %d: %s", status, refusals.body(status))
		}
	}
	log := n.log()
	if !strings.Contains(log, "no space left on device") && !strings.Contains(log, "disk is full") {
		t.Errorf("the node's log never names the full disk")
	}
	lost := a.lost(t, n)
	if len(lost) != 0 {
		t.Errorf("%d acknowledged links lost: %v", len(lost), lost)
	}
	return fmt.Sprintf("creates refused %s (first after %.1f s), API key %d; %d redirects during, %d failed; %d links acknowledged, %d lost; creates again %.1f s after the space returned",
		formatStatuses(statuses), refusedAfter.Seconds(), keyStatus, during.Requests, during.Failures+before.Failures+after.Failures,
		a.count(), len(lost), recovered.Seconds())
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

// refusals are the creates answered other than 201, by status.
type refusals struct {
	mu      sync.Mutex
	n       int
	bodies  map[int]string // the first body of each status
	counts  map[int]int
	unclear []string
}

func (r *refusals) add(status int, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.counts == nil {
		r.counts = map[int]int{}
	}
	r.counts[status]++
	if _, ok := r.bodies[status]; !ok {
		r.bodies[status] = body
	}
	if !namesDisk(body) && len(r.unclear) < 5 {
		r.unclear = append(r.unclear, fmt.Sprintf("%d %s", status, body))
	}
}

func (r *refusals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *refusals) body(status int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[status]
}

func (r *refusals) summary() (map[int]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]int{}
	for s, c := range r.counts {
		out[s] = c
	}
	return out, append([]string(nil), r.unclear...)
}

func formatStatuses(m map[int]int) string {
	var parts []string
	for s, c := range m {
		parts = append(parts, fmt.Sprintf("%d×%d", c, s))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
