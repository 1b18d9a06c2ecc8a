package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/testkit/promtest"
)

// Binary is the shortify binary the node runs (the stack's, or the one
// Replace gave it).
func (n *Node) Binary() string { return n.bin }

// role is the role Caddyfile the node runs: controlplane, edge, stats,
// frontdoor or kafka.
func (n *Node) role() string { return strings.TrimSuffix(filepath.Base(n.config), ".Caddyfile") }

// Replace stops node n cleanly (SIGINT, as a deploy's stop does) and
// starts it again on the binary bin with its role's Caddyfile from the
// directory caddyfiles (another release's deploy/caddyfiles), keeping
// its data directory, ports and environment: a rolling upgrade's step,
// or a plain restart when bin and caddyfiles are the node's own. It
// returns once the node answers its health check again, and for a
// control-plane node once it is ready to issue codes (/api/v1/readyz), as
// the first start waits. Whether the rest of the stack has noticed (the
// front door's health checks, the Raft leader) is the caller's to wait
// for: see FrontDoorChecked.
func (s *Stack) Replace(ctx context.Context, n *Node, bin, caddyfiles string) error {
	role := n.role()
	if role == "kafka" {
		return fmt.Errorf("replace %s: the broker has no role Caddyfile to replace", n.Name)
	}
	conf, err := s.releaseRole(caddyfiles, role, filepath.Dir(n.config))
	if err != nil {
		return fmt.Errorf("replace %s: %w", n.Name, err)
	}
	if err := n.Stop(); err != nil {
		return fmt.Errorf("replace %s: stop: %w", n.Name, err)
	}
	n.bin, n.config = bin, conf
	path := ""
	if role == "controlplane" {
		path = "/api/v1/readyz"
	}
	if err := s.startNodes(ctx, []*Node{n}, path); err != nil {
		return fmt.Errorf("replace %s: %w", n.Name, err)
	}
	return nil
}

// releaseRole copies role's Caddyfile from the directory caddyfiles into
// a directory of the stack's own for that source (caddyfiles-<hash of
// its path>) and returns the copy's path. A control-plane Caddyfile
// imports cluster/<node ID>.caddy beside itself: those snippets are
// copied from from, the directory of the Caddyfile the node ran.
func (s *Stack) releaseRole(caddyfiles, role, from string) (string, error) {
	src, err := filepath.Abs(caddyfiles)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(src))
	dir := filepath.Join(s.cfg.Dir, "caddyfiles-"+hex.EncodeToString(sum[:4]))
	b, err := os.ReadFile(filepath.Join(src, role+".Caddyfile"))
	if err != nil {
		return "", fmt.Errorf("role Caddyfile: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, role+".Caddyfile")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return "", err
	}
	if role != "controlplane" || filepath.Clean(from) == dir {
		return dst, nil
	}
	snippets, err := filepath.Glob(filepath.Join(from, "cluster", "*.caddy"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "cluster"), 0o755); err != nil {
		return "", err
	}
	for _, p := range snippets {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "cluster", filepath.Base(p)), b, 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}

// FrontDoorChecked waits until the front door has health-checked edge n
// since the call: it counts the answers of the edge's operations server
// to /readyz and /healthz (Caddy's caddy_http_requests_total of its
// shortify_edge_ready and static_response handlers: frontdoor.Caddyfile's
// health_uri is /readyz, a front door of a release before the warm start
// asks /healthz) and waits for one more, which only the front door sends
// once the caller has stopped asking. So an edge just replaced is back in
// the front door's rotation (a passing check marks it healthy) before the
// next edge stops; otherwise the front door could be left, for up to a
// health interval, with no edge it believes healthy.
func (s *Stack) FrontDoorChecked(ctx context.Context, n *Node) error {
	if n.role() != "edge" {
		return fmt.Errorf("%s is not an edge", n.Name)
	}
	before, err := healthAnswers(ctx, n.Ops)
	if err != nil {
		return err
	}
	return waitPoll(ctx, n, "a health check from the front door", func(ctx context.Context) error {
		now, err := healthAnswers(ctx, n.Ops)
		if err == nil && now <= before {
			err = fmt.Errorf("%v /healthz answers, as before", now)
		}
		return err
	})
}

// healthAnswers is how many requests the operations server at ops has
// answered on /readyz and /healthz: 0 while it has answered none.
func healthAnswers(ctx context.Context, ops string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	page, err := promtest.Get(ctx, nil, ops+"/metrics", "caddy_http_requests_total{")
	if err != nil {
		return 0, err
	}
	// No series yet is no answer yet: Caddy adds a handler's series at its
	// first request, which a just-started edge may not have had.
	var total float64
	for series, v := range page {
		if (strings.Contains(series, `handler="shortify_edge_ready"`) || strings.Contains(series, `handler="static_response"`)) &&
			strings.Contains(series, `server="ops"`) {
			total += v
		}
	}
	return total, nil
}
