// Command cpidle measures the control plane's CPU at rest: it starts the
// production-shaped stack (internal/testkit/stack: PostgreSQL, Redis
// Cluster, broker, three control-plane nodes, edges, stats, front door)
// with each binary given, sends it no traffic, and reads each
// control-plane node's CPU time from /proc/PID/stat over a window. With
// -profile it then takes a CPU profile of the leader and of a follower
// from their Caddy admin endpoints and prints their hottest functions.
// Binaries run one after the other, so a before/after comparison is one
// run:
//
//	go build -o /tmp/before ./cmd/shortify  # on the old commit
//	go build -o /tmp/after ./cmd/shortify
//	go run ./bench/cpidle -bin before=/tmp/before -bin after=/tmp/after
//
// It prints one line per binary: each node's cores (CPU seconds per
// second) and the control plane's sum, and the load average before and
// after the window (the machine is shared: other work shows there).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/stack"
)

// startTimeout bounds starting one stack.
const startTimeout = 3 * time.Minute

// binFlags is the repeatable -bin label=path.
type binFlags []binary

type binary struct{ label, path string }

func (b *binFlags) String() string { return fmt.Sprint(*b) }

// Set adds one -bin: label=path, or a path labelled by its file name.
func (b *binFlags) Set(v string) error {
	label, path, ok := strings.Cut(v, "=")
	if !ok {
		label, path = filepath.Base(v), v
	}
	if label == "" || path == "" {
		return fmt.Errorf("%q: want label=path or a path", v)
	}
	*b = append(*b, binary{label, path})
	return nil
}

func main() {
	var bins binFlags
	flag.Var(&bins, "bin", "label=path of a shortify binary (repeat to compare; default bin/shortify)")
	caddyfiles := flag.String("caddyfiles", "deploy/caddyfiles", "directory of the role Caddyfiles")
	settle := flag.Duration("settle", 15*time.Second, "rest after start-up before measuring (start-up work, first lease renewals)")
	window := flag.Duration("window", 30*time.Second, "how long to read the nodes' CPU")
	profile := flag.Duration("profile", 0, "then profile the leader and a follower this long (0: no profile)")
	top := flag.Int("top", 25, "functions to print per profile")
	profDir := flag.String("profdir", os.TempDir(), "where to save the profiles (<label>-<node>.pprof)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if len(bins) == 0 {
		bins = binFlags{{"bin/shortify", "bin/shortify"}}
	}
	var lines []string
	for _, b := range bins {
		line, err := measure(b, *caddyfiles, *settle, *window, *profile, *top, *profDir)
		if err != nil {
			log.Fatalf("cpidle: %s: %v", b.label, err)
		}
		lines = append(lines, line)
	}
	fmt.Println("\ncontrol plane at rest (CPU cores per node over the window):")
	for _, l := range lines {
		fmt.Println(l)
	}
}

// measure starts a stack with binary b, lets it settle, reads the nodes'
// CPU over window (and profiles them, with profile > 0), stops it and
// returns the summary line.
func measure(b binary, caddyfiles string, settle, window, profile time.Duration, top int, profDir string) (string, error) {
	dir, err := os.MkdirTemp("", "shortify-cpidle-")
	if err != nil {
		return "", err
	}
	defer func() {
		_ = procs.RemoveServerDirs(dir)
		_ = os.RemoveAll(dir)
	}()
	ports, err := stack.FreePorts()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	log.Printf("%s: starting the stack with %s", b.label, b.path)
	s, err := stack.Start(ctx, stack.Config{Dir: dir, Binary: b.path, Caddyfiles: caddyfiles, Ports: ports})
	if err != nil {
		return "", err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			log.Printf("%s: stop: %v", b.label, err)
		}
	}()
	log.Printf("%s: up; resting %v, then measuring %v", b.label, settle, window)
	time.Sleep(settle) // at rest on purpose: nothing to poll for
	leader, err := s.Leader(ctx)
	if err != nil {
		return "", err
	}

	load0 := procs.LoadAverage()
	cpu0, err := nodesCPU(s.Nodes)
	if err != nil {
		return "", err
	}
	start := time.Now()
	time.Sleep(window)
	cpu1, err := nodesCPU(s.Nodes)
	if err != nil {
		return "", err
	}
	took := time.Since(start)
	load1 := procs.LoadAverage()
	// An election in the window (a starved machine) shows in the figures.
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	after, err := s.Leader(lctx)
	lcancel()
	if err != nil {
		return "", err
	}

	var out strings.Builder
	fmt.Fprintf(&out, "  %-8s", b.label)
	var sum time.Duration
	for i, n := range s.Nodes {
		d := cpu1[i] - cpu0[i]
		sum += d
		role := "follower"
		if n == leader {
			role = "leader"
		}
		fmt.Fprintf(&out, " %s(%s)=%.3f", n.Name, role, d.Seconds()/took.Seconds())
	}
	fmt.Fprintf(&out, " total=%.3f cores over %v; loadavg %s -> %s", sum.Seconds()/took.Seconds(), took.Round(time.Second), load0, load1)
	if after != leader {
		fmt.Fprintf(&out, "; leader %s after the window", after.Name)
	}
	log.Print(out.String())

	if profile > 0 {
		follower := s.Nodes[0]
		if follower == after {
			follower = s.Nodes[1]
		}
		profiled, roles := []*stack.Node{after, follower}, []string{"leader", "follower"}
		var wg sync.WaitGroup
		tops := make([]string, 2)
		for i, n := range profiled {
			wg.Go(func() {
				tops[i] = profileTop(n, ports, s.Nodes, profile, top, filepath.Join(profDir, b.label+"-"+n.Name+".pprof"))
			})
		}
		wg.Wait()
		for i, n := range profiled {
			fmt.Printf("\n%s: %s (%s) CPU profile over %v:\n%s\n", b.label, n.Name, roles[i], profile, tops[i])
		}
	}
	return out.String(), nil
}

// nodesCPU is each node's CPU time so far.
func nodesCPU(nodes []*stack.Node) ([]time.Duration, error) {
	out := make([]time.Duration, len(nodes))
	for i, n := range nodes {
		t, err := procs.CPUTime(n.Pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		out[i] = t
	}
	return out, nil
}

// profileTop fetches a CPU profile of d of node n from its Caddy admin
// endpoint (which serves net/http/pprof) into path and returns `go tool
// pprof -top` of it, or the error as text.
func profileTop(n *stack.Node, ports stack.Ports, nodes []*stack.Node, d time.Duration, top int, path string) string {
	admin := 0
	for i, m := range nodes {
		if m == n {
			admin = ports.NodeAdmin[i]
		}
	}
	// Caddy's admin endpoint accepts the Host localhost:port.
	url := fmt.Sprintf("http://localhost:%d/debug/pprof/profile?seconds=%d", admin, int(d.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	// pprof fetches it itself.
	if out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-proto", "-output", path, url).CombinedOutput(); err != nil {
		return fmt.Sprintf("    go tool pprof %s: %v: %s", url, err, out)
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", top), path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("    go tool pprof %s: %v: %s", path, err, out)
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, "    "+l)
	}
	return fmt.Sprintf("    (saved in %s)\n%s", path, strings.Join(keep, "\n"))
}
