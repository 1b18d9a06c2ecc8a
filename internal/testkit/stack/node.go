package stack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// caddyStopTimeout bounds a clean stop of one Caddy process.
const caddyStopTimeout = 30 * time.Second

// Node is one shortify (Caddy) process of the stack running a role
// Caddyfile: the broker, a control-plane node, an edge, a stats instance
// or the front door.
type Node struct {
	// Name is the process's name in the stack: node1, edge2, stats1, ...
	Name string
	// URL is its public base URL (API, redirects or clients); empty for
	// the broker and stats instances, which serve none.
	URL string
	// Ops is the base URL of its operations server (/metrics, /healthz);
	// empty for the broker.
	Ops string
	// Dir is its working directory, with its log (shortify.log).
	Dir string

	config string
	env    []string
	bin    string
	proc   *procs.Process
}

// start runs `shortify run --config <config>` in n.Dir with n.env on top
// of this process's environment. Caddy's own data and config directories
// go under n.Dir too, so that the stack writes nothing to $HOME.
func (n *Node) start() error {
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	cmd := exec.Command(n.bin, "run", "--config", n.config, "--adapter", "caddyfile")
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(n.Dir, "caddy-data"),
		"XDG_CONFIG_HOME="+filepath.Join(n.Dir, "caddy-config"))
	cmd.Env = append(cmd.Env, n.env...)
	p, err := procs.Start(n.Name, cmd, filepath.Join(n.Dir, "shortify.log"))
	if err != nil {
		return err
	}
	n.proc = p
	return nil
}

// Pid is the process's ID.
func (n *Node) Pid() int { return n.proc.Pid() }

// Kill kills the process at once (kill -9), as a crash would.
func (n *Node) Kill() { n.proc.Kill() }

// Stop asks the process to stop (SIGINT: Caddy stops its apps cleanly)
// and waits for it.
func (n *Node) Stop() error { return n.proc.Stop(syscall.SIGINT, caddyStopTimeout) }

// Running reports whether the process has not exited.
func (n *Node) Running() bool {
	exited, _ := n.proc.Exited()
	return !exited
}

// LogTail is the end of the node's log, for errors.
func (n *Node) LogTail() string { return n.proc.LogTail(4000) }

// waitHTTP waits until GET url answers 200, or the node exits.
func (n *Node) waitHTTP(ctx context.Context, url string) error {
	return procs.Poll(ctx, n.Name+" at "+url, 50*time.Millisecond, n.proc, func(ctx context.Context) error {
		return get200(ctx, url)
	})
}

// WaitReady waits until edge n's readiness endpoint (/readyz on its
// operations server) answers 200: its warm start is over.
func (n *Node) WaitReady(ctx context.Context) error { return n.waitHTTP(ctx, n.Ops+"/readyz") }

// get200 fails unless GET url answers 200.
func get200(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitPoll waits for cond as procs.Poll does, giving up when n exits.
func waitPoll(ctx context.Context, n *Node, what string, cond func(context.Context) error) error {
	return procs.Poll(ctx, n.Name+": "+what, 50*time.Millisecond, n.proc, cond)
}

// pollCtx waits for cond as procs.Poll does.
func pollCtx(ctx context.Context, what string, cond func(context.Context) error) error {
	return procs.Poll(ctx, what, 50*time.Millisecond, nil, cond)
}
