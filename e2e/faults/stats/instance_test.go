//go:build faults

package stats

import (
	"bufio"
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

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// instance is one stats process: `shortify run` with the stats role's
// Caddyfile, unchanged, set up by environment as in production.
type instance struct {
	name string
	ops  string // http://127.0.0.1:port, /metrics and /healthz
	proc *procs.Process
}

// instanceEnv is what every instance shares.
type instanceEnv struct {
	bin, dir, broker, dsn string
	session               time.Duration
	started               *[]*instance // every instance started, for their logs
}

// logLines counts the lines of every instance's log that contain s.
func (e instanceEnv) logLines(s string) int {
	n := 0
	for _, in := range *e.started {
		b, err := os.ReadFile(in.proc.Log)
		if err != nil {
			continue
		}
		n += strings.Count(string(b), s)
	}
	return n
}

// start starts an instance and waits for its /healthz (the process is up;
// it joins the group on its own time).
func (e instanceEnv) start(t *testing.T, name string) *instance {
	t.Helper()
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ops := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(ops)
	cmd := exec.Command(e.bin, "run", "--config", testenv.Caddyfile("stats"), "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(dir, "caddy-data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "caddy-config"),
		"SHORTIFY_ADMIN="+testenv.FreeAddr(t),
		"SHORTIFY_BIND=127.0.0.1",
		"SHORTIFY_OPS_PORT="+port,
		"SHORTIFY_KAFKA_BROKERS="+e.broker,
		"SHORTIFY_STATS_DATABASE_URL="+e.dsn,
		"SHORTIFY_STATS_SESSION_TIMEOUT="+e.session.String(),
	)
	p, err := procs.Start(name, cmd, filepath.Join(dir, "shortify.log"))
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, ops: "http://" + ops, proc: p}
	*e.started = append(*e.started, in)
	t.Cleanup(func() {
		if err := in.stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("--- %s log (end):\n%s", name, p.LogTail(3000))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := procs.Poll(ctx, name+" /healthz", 20*time.Millisecond, p, func(ctx context.Context) error {
		_, err := get(ctx, in.ops+"/healthz")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

// stop asks the instance to stop (SIGINT: it finishes its batch and
// leaves the group) and waits for it; a killed instance is left alone.
func (in *instance) stop() error { return in.proc.Stop(syscall.SIGINT, 30*time.Second) }

// kill kills it at once (kill -9): no batch finished, no leaving.
func (in *instance) kill() { in.proc.Kill() }

// counters are an instance's click counters: polled, and committed to
// the stats database. Polled minus committed, for an instance whose
// batches never failed, is its batch in flight.
type counters struct{ consumed, counted int64 }

func (in *instance) counters(ctx context.Context) (counters, error) {
	body, err := get(ctx, in.ops+"/metrics")
	if err != nil {
		return counters{}, err
	}
	var c counters
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var into *int64
		switch {
		case strings.HasPrefix(line, "shortify_stats_events_consumed_total "):
			into = &c.consumed
		case strings.HasPrefix(line, "shortify_stats_events_counted_total{"):
			into = &c.counted
		default:
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return c, fmt.Errorf("%s metrics: %q: %w", in.name, line, err)
		}
		*into += int64(v)
	}
	return c, sc.Err()
}

// get returns the body of a 200 answer to GET url.
func get(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
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
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}
