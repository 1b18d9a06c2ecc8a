//go:build faults

package disk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// node is one shortify process running the root Caddyfile (every role
// in one process, as `make run`), its data directory where the test says.
type node struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	key  string // the initial admin API key
	proc *procs.Process
}

// startNode starts the node with SHORTIFY_DATA_DIR=dataDir and env on
// top, its working directory and log in workDir (not on the tmpfs, so
// that the log survives a full disk), and waits until it is ready.
func startNode(t *testing.T, workDir, dataDir string, env ...string) *node {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	listen := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	n := &node{t: t, base: "http://" + listen, key: k.Secret}
	cmd := exec.Command(testenv.Shortify(t), "run", "--config", testenv.Caddyfile(""), "--adapter", "caddyfile")
	cmd.Dir = workDir
	broker := testenv.FreeAddr(t)
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(workDir, "caddy-data"),
		"XDG_CONFIG_HOME="+filepath.Join(workDir, "caddy-config"),
		"SHORTIFY_DATA_DIR="+dataDir,
		"SHORTIFY_INITIAL_API_KEY="+n.key,
		"SHORTIFY_BIND=127.0.0.1",
		"SHORTIFY_PORT="+port,
		"SHORTIFY_PUBLIC_URL="+n.base,
		"SHORTIFY_ADMIN="+testenv.FreeAddr(t),
		"SHORTIFY_RAFT_BIND="+testenv.FreeAddr(t),
		"SHORTIFY_KAFKA_LISTEN="+broker,
		"SHORTIFY_KAFKA_BROKERS="+broker,
	)
	cmd.Env = append(cmd.Env, env...)
	p, err := procs.Start("shortify", cmd, filepath.Join(workDir, "shortify.log"))
	if err != nil {
		t.Fatal(err)
	}
	n.proc = p
	t.Cleanup(func() {
		if err := p.Stop(syscall.SIGINT, 30*time.Second); err != nil {
			t.Errorf("stop the node: %v", err)
		}
		if t.Failed() {
			t.Logf("--- node log (end):\n%s", p.LogTail(6000))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := procs.Poll(ctx, "the node to be ready", 20*time.Millisecond, p, func(ctx context.Context) error {
		status, body, err := n.do(ctx, "GET", "/api/v1/readyz", "")
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("%d %s", status, body)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request with the admin key and returns the status and body.
func (n *node) do(ctx context.Context, method, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+n.key)
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// create creates a link to target; it returns the status, the code
// (on 201) and the body.
func (n *node) create(ctx context.Context, target string) (int, string, string, error) {
	status, body, err := n.do(ctx, "POST", "/api/v1/links", `{"url":"`+target+`"}`)
	if err != nil || status != http.StatusCreated {
		return status, "", body, err
	}
	var l struct {
		Code string `json:"code"`
		URL  string `json:"url"`
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil || l.Code == "" || l.URL != target {
		return status, "", body, fmt.Errorf("create %s: answered %s (%v)", target, body, err)
	}
	return status, l.Code, body, nil
}

// redirect follows code once and reports whether it redirected to url.
func (n *node) redirect(ctx context.Context, code, url string) (int, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+"/"+code, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == url, nil
}

// log is the node's whole log.
func (n *node) log() string { return n.proc.LogTail(1 << 30) }
