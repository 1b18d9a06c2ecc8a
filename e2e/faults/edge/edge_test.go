package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Bounds of the harness's waits (not of the faults' figures).
const (
	procStartTimeout = 60 * time.Second
	procStopTimeout  = 30 * time.Second
)

// edgeConfig is what an edge process is given.
type edgeConfig struct {
	// DSN is the link database (through a netfault proxy, say).
	DSN string
	// Redis and RedisPrefix are the L2; the prefix keeps tests apart.
	Redis, RedisPrefix string
	// Brokers is the Kafka broker for click events; "" none.
	Brokers string
	// ClickQueue is click_queue (0: the default).
	ClickQueue int
}

// edgeCaddyfile is the edge's config: deploy/caddyfiles/edge.Caddyfile's
// handler with the per-client limits off (the load comes from one
// address) and a long L1 lifetime (so that the hot codes stay L1 hits
// for the whole test), an ops server with /metrics and /healthz, and the
// admin endpoint on a port of the test's own (reloads, profiles).
const edgeCaddyfile = `{
	admin %[1]s
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	metrics
}

http://:%[2]d {
	shortify_edge {
		database {env.SHORTIFY_DATABASE_URL}
		redis %[4]s
		redis_prefix %[5]s
		cache_ttl 10m
		%[6]s
		visitor_key {env.SHORTIFY_VISITOR_KEY}
		rate_limit off
		miss_limit off
	}
}

http://:%[3]d {
	metrics /metrics
	respond /healthz "ok" 200
}
`

// proc is a Shortify process the test started: `shortify run` with a
// Caddyfile, its ops server (/metrics, /healthz) and its Caddy admin
// endpoint (reloads, profiles) on ports of the test's own.
type proc struct {
	t *testing.T
	// Name says which process it is, in logs and errors.
	Name string
	// Ops is its ops server, Admin its admin endpoint (http://host:port).
	Ops, Admin string
	proc       *procs.Process
}

// startProc runs `shortify run --config conf` in dir with env on top of
// the test's environment and waits until ops answers /healthz; the
// process is stopped when the test ends (its log kept in
// SHORTIFY_EDGEFAULTS_KEEP when the test failed).
func startProc(t *testing.T, name, dir, conf, ops, admin string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Shortify(t), "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(dir, "caddy-data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "caddy-config")), env...)
	p, err := procs.Start(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	pr := &proc{t: t, Name: name, proc: p, Ops: ops, Admin: admin}
	t.Cleanup(func() {
		if err := p.Stop(syscall.SIGINT, procStopTimeout); err != nil {
			t.Errorf("stop the %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("--- %s log (end):\n%s", name, p.LogTail(6000))
			if d := os.Getenv("SHORTIFY_EDGEFAULTS_KEEP"); d != "" {
				b, _ := os.ReadFile(p.Log)
				_ = os.WriteFile(filepath.Join(d, t.Name()+"-"+name+".log"), b, 0o644)
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), procStartTimeout)
	defer cancel()
	if err := procs.Poll(ctx, "the "+name+"'s /healthz", 20*time.Millisecond, p, func(ctx context.Context) error {
		_, err := get(ctx, pr.Ops+"/healthz")
		return err
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.LogTail(4000))
	}
	return pr
}

// edgeProc is a running edge process.
type edgeProc struct {
	*proc
	// URL is where it answers redirects.
	URL string
	// Config is its Caddyfile.
	Config string
}

// startEdge starts an edge and waits until it answers /healthz; it is
// stopped when the test ends.
func startEdge(t *testing.T, cfg edgeConfig) *edgeProc {
	t.Helper()
	dir := t.TempDir()
	admin := testenv.FreeAddr(t)
	public, ops := freePort(t), freePort(t)
	events := ""
	if cfg.Brokers != "" {
		events = "kafka_brokers " + cfg.Brokers + "\n\t\tclicks_topic clicks"
		if cfg.ClickQueue > 0 {
			events += "\n\t\tclick_queue " + strconv.Itoa(cfg.ClickQueue)
		}
	}
	conf := filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(edgeCaddyfile, admin, public, ops, cfg.Redis, cfg.RedisPrefix, events)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "edge", dir, conf, fmt.Sprintf("http://127.0.0.1:%d", ops), "http://"+admin,
		"SHORTIFY_DATABASE_URL="+cfg.DSN,
		"SHORTIFY_VISITOR_KEY=edge-fault-tests-visitor-key-0123456789abcdef")
	return &edgeProc{proc: p, Config: conf, URL: fmt.Sprintf("http://127.0.0.1:%d", public)}
}

// freePort is a free port on the loopback address.
func freePort(t *testing.T) int {
	_, p, _ := net.SplitHostPort(testenv.FreeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

// Pid is the process's ID.
func (e *proc) Pid() int { return e.proc.Pid() }

// Running reports whether the process has not exited.
func (e *proc) Running() bool {
	exited, _ := e.proc.Exited()
	return !exited
}

// get GETs url and returns its body; anything but 200 is an error.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, b)
	}
	return string(b), nil
}

// metrics scrapes the process's /metrics into "name{labels}" → value, the
// labels as Prometheus's text format writes them.
func (e *proc) metrics() map[string]float64 {
	e.t.Helper()
	body, err := get(e.t.Context(), e.Ops+"/metrics")
	if err != nil {
		e.t.Fatalf("scrape the %s: %v", e.Name, err)
	}
	out, err := promtest.Parse(strings.NewReader(body), "")
	if err != nil {
		e.t.Fatalf("scrape the %s: %v", e.Name, err)
	}
	return out
}

// clickCounter is one result of shortify_edge_click_events_total.
func clickCounter(m map[string]float64, result string) int {
	return int(m[`shortify_edge_click_events_total{result="`+result+`"}`])
}

// usage is what a process holds, read from outside: goroutines and
// heap from its admin endpoint's profiles (the heap right after a
// garbage collection that the profile forces), open descriptors from
// /proc.
type usage struct {
	Goroutines int
	HeapAlloc  int64 // bytes, right after a GC
	FDs        int
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB heap, %d fds", u.Goroutines, float64(u.HeapAlloc)/(1<<20), u.FDs)
}

// usage reads the process's usage now.
func (e *proc) usage() usage {
	e.t.Helper()
	ctx := e.t.Context()
	var u usage
	heap, err := get(ctx, e.Admin+"/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		e.t.Fatalf("heap profile: %v", err)
	}
	if u.HeapAlloc, err = profileField(heap, "# HeapAlloc = "); err != nil {
		e.t.Fatal(err)
	}
	gr, err := get(ctx, e.Admin+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		e.t.Fatalf("goroutine profile: %v", err)
	}
	n, err := profileField(gr, "goroutine profile: total ")
	if err != nil {
		e.t.Fatal(err)
	}
	u.Goroutines = int(n)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.Pid()))
	if err != nil {
		e.t.Fatalf("the %s's descriptors: %v", e.Name, err)
	}
	u.FDs = len(fds)
	return u
}

// profileField is the integer after prefix at the start of a line of a
// text profile.
func profileField(profile, prefix string) (int64, error) {
	for line := range strings.Lines(profile) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %q in the profile", prefix)
}

// makeLinks migrates the link database dsn (the link store, the block set
// and the domain mirror, as a control plane would) and stores n links
// with codes prefix0, prefix1, ...; it returns the codes.
func makeLinks(t *testing.T, dsn, prefix string, n int) []string {
	t.Helper()
	ctx := t.Context()
	store := teststore.Postgres(t, dsn)
	bs, err := blockset.Open(ctx, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	bs.Close()
	dm, err := domainmirror.Open(ctx, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	dm.Close()
	codes := make([]string, n)
	links := make([]linkstore.Link, n)
	base := time.Now().UnixNano() & (1<<62 - 1)
	for i := range codes {
		codes[i] = fmt.Sprintf("%s%d", prefix, i)
		links[i] = linkstore.Link{ID: base + int64(i), Code: codes[i],
			URL: fmt.Sprintf("https://example.com/%s", codes[i]), CreatedAt: time.Now().UTC()}
	}
	for i, err := range store.CreateMany(ctx, links) {
		if err != nil {
			t.Fatalf("create %s: %v", codes[i], err)
		}
	}
	return codes
}

// newClient is an HTTP client for load: it keeps many connections to the
// edge and never follows a redirect.
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	tr.DisableCompression = true
	return &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// resendClient sends a request again after its connection was cut before
// any answer (closedBeforeAnswer): on a connection of its own, as a
// client that dials again does, not on another pooled one that the same
// reload has closed.
var resendClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
