package deploy_test

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// runCaddyEnv set to 1 makes this test binary the shortify command (what
// cmd/shortify's main does: Caddy's command line with the standard and
// Shortify modules), so that tests run a role Caddyfile in a real Caddy
// process of their own without building the binary first.
const runCaddyEnv = "SHORTIFY_DEPLOY_TEST_RUN_CADDY"

func TestMain(m *testing.M) {
	if os.Getenv(runCaddyEnv) == "1" {
		caddycmd.Main()
		return
	}
	// testenv.Main drops the package's PostgreSQL database after.
	testenv.Main(m)
}

// caddyProcess is a Caddy process running a role Caddyfile.
type caddyProcess struct {
	// Public and Ops are the 127.0.0.1:port addresses of the role's
	// client port (SHORTIFY_PORT) and operations port.
	Public, Ops string
	// DataDir is Caddy's data directory (XDG_DATA_HOME/caddy): its
	// certificates and local CA.
	DataDir string

	logs *lockedBuffer
	// signal sends sig to the process and waits up to within for it to
	// exit; it reports whether it did.
	signal func(sig os.Signal, within time.Duration) bool
}

// Kill ends the process with SIGKILL, as a crash would, and returns once
// it has exited; the test's cleanup then has nothing left to do.
func (p *caddyProcess) Kill() { p.signal(os.Kill, time.Hour) }

// Stop asks the process to exit with SIGTERM, as a supervisor does (Caddy
// finishes the requests it has and takes no new ones), and waits for it;
// after 30 s it kills it and reports false.
func (p *caddyProcess) Stop() bool {
	if p.signal(syscall.SIGTERM, 30*time.Second) {
		return true
	}
	p.Kill()
	return false
}

// Logs returns everything the process has logged so far.
func (p *caddyProcess) Logs() string { return p.logs.String() }

// runCaddy starts `shortify run` on the role Caddyfile at path with env
// (on top of free loopback ports for SHORTIFY_PORT, SHORTIFY_OPS_PORT and
// the admin endpoint, and SHORTIFY_BIND=127.0.0.1), and returns once its
// ops server answers /healthz and its client port accepts connections.
// The process is killed when the test ends. A SHORTIFY_PORT or
// SHORTIFY_OPS_PORT in env is used instead of a free port, so that a
// process can be restarted where an earlier one listened.
func runCaddy(t *testing.T, path string, env map[string]string) *caddyProcess {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &caddyProcess{Public: testenv.FreeAddr(t), Ops: testenv.FreeAddr(t), logs: new(lockedBuffer)}
	if port := env["SHORTIFY_PORT"]; port != "" {
		p.Public = net.JoinHostPort("127.0.0.1", port)
	}
	if port := env["SHORTIFY_OPS_PORT"]; port != "" {
		p.Ops = net.JoinHostPort("127.0.0.1", port)
	}
	_, port, _ := net.SplitHostPort(p.Public)
	_, opsPort, _ := net.SplitHostPort(p.Ops)
	home := t.TempDir()
	p.DataDir = filepath.Join(home, "data", "caddy")
	vars := map[string]string{
		"SHORTIFY_BIND":     "127.0.0.1",
		"SHORTIFY_PORT":     port,
		"SHORTIFY_OPS_PORT": opsPort,
		"SHORTIFY_ADMIN":    testenv.FreeAddr(t),
		"HOME":              home,
		"XDG_DATA_HOME":     filepath.Join(home, "data"),
		"XDG_CONFIG_HOME":   filepath.Join(home, "config"),
		runCaddyEnv:         "1",
	}
	for k, v := range env {
		vars[k] = v
	}
	var environ []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "SHORTIFY_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	cmd := exec.Command(os.Args[0], "run", "--config", abs, "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.signal = func(sig os.Signal, within time.Duration) bool {
		cmd.Process.Signal(sig) // an error: it has exited already
		select {
		case <-exited:
			return true
		case <-time.After(within):
			return false
		}
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("Caddy's log (%s):\n%s", path, p.Logs())
		}
	})
	client := &http.Client{Timeout: time.Second}
	testenv.WaitFor(t, "Caddy on "+path+" to answer /healthz", 30*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("Caddy exited:\n%s", p.Logs())
		default:
		}
		resp, err := client.Get("http://" + p.Ops + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Caddy starts its servers one after the other: the client
		// port may open a moment after the ops port.
		c, err := net.DialTimeout("tcp", p.Public, time.Second)
		if err == nil {
			c.Close()
		}
		return resp.StatusCode == http.StatusOK && err == nil
	})
	return p
}

// lockedBuffer is a bytes.Buffer that a process writes to while a test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
