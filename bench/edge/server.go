package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// instance is one Caddy process started from the shortify binary.
type instance struct {
	name   string
	addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	admin  string // its admin endpoint's address, "" when off
	logs   string // path of its combined stdout and stderr
	exited chan struct{}
}

// siteBlock returns a Caddyfile that serves body on addr only (bound to
// its IP), with Caddy's admin endpoint off and nothing persisted.
// withAdmin turns the admin endpoint on. The
// site address names the port alone, so that the site answers every
// Host: the requests name the own host or the custom domain.
func siteBlock(addr, body string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", addr
	}
	return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
}

http://:%s {
	bind %s
%s
}
`, port, host, body)
}

// withAdmin turns the admin endpoint of a siteBlock Caddyfile on, at
// admin (a loopback address): the harness collects garbage through it.
func withAdmin(caddyfile, admin string) string {
	return strings.Replace(caddyfile, "\tadmin off\n", "\tadmin "+admin+"\n", 1)
}

// adminOf is the admin address of a Caddyfile made by withAdmin, "" when
// its admin endpoint is off.
func adminOf(caddyfile string) string {
	for _, line := range strings.Split(caddyfile, "\n") {
		if v, ok := strings.CutPrefix(line, "\tadmin "); ok && v != "off" {
			return v
		}
	}
	return ""
}

// redisTTL bounds the life of the benchmark's Redis keys in the shared
// Redis, in case its cleanup never runs; privateRedisTTL those in the
// redis-server of -fill start, which dies with the run, and whose ten
// million keys take longer to write and use than redisTTL would last on
// a busy machine.
const privateRedisTTL = 6 * time.Hour

// redisTTL bounds the life of the benchmark's Redis keys, in case its
// cleanup never runs.
const redisTTL = 30 * time.Minute

// shortifyOptions are the subdirectives of one shortify_edge handler.
type shortifyOptions struct {
	database    string
	redis       string
	redisPrefix string
	cacheSize   int
	cacheTTL    string
	hosts       string // the instance's own host names (the option hosts), "" for none
	kafkaOption string // the module's Kafka subdirective, "" for none
	kafkaAddr   string
	// ttl is the redis_ttl; zero means redisTTL.
	ttl time.Duration
	// warmCount and warmTimeout set the warm start (warm_count,
	// warm_timeout) when warmCount is positive; else the module's
	// defaults hold.
	warmCount   int
	warmTimeout time.Duration
}

// caddyfile is the shortify_edge handler with o, as a site block body.
func (o shortifyOptions) body() string {
	var b strings.Builder
	b.WriteString("\tshortify_edge {\n")
	fmt.Fprintf(&b, "\t\tdatabase %s\n", o.database)
	if o.redis != "" {
		fmt.Fprintf(&b, "\t\tredis %s\n\t\tredis_prefix %s\n\t\tredis_ttl %s\n", o.redis, o.redisPrefix, cmp.Or(o.ttl, redisTTL))
	}
	fmt.Fprintf(&b, "\t\tcache_size %d\n\t\tcache_ttl %s\n", o.cacheSize, o.cacheTTL)
	if o.hosts != "" {
		fmt.Fprintf(&b, "\t\thosts %s\n", o.hosts)
	}
	if o.kafkaOption != "" {
		fmt.Fprintf(&b, "\t\t%s %s\n", o.kafkaOption, o.kafkaAddr)
	}
	if o.warmCount > 0 {
		fmt.Fprintf(&b, "\t\twarm_count %d\n\t\twarm_timeout %s\n", o.warmCount, o.warmTimeout)
	}
	b.WriteString("\t}")
	return b.String()
}

// staticRedirect is instance B's site body: Caddy's own static redirect.
const staticRedirect = "\tredir * https://example.com/target 302"

// startInstance writes caddyfile into dir and runs the binary on it,
// pinned to CPU 0 when pin is set, with GOGC=gogc when gogc is set. It returns once the instance answers
// HTTP on its address; the instance is stopped by stop (or by the
// process's death: it gets SIGKILL when this process dies).
func startInstance(ctx context.Context, bin, dir, name, addr, caddyfile string, pin bool, gogc string) (*instance, error) {
	file := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(file, []byte(caddyfile), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	logs := filepath.Join(dir, name+".log")
	out, err := os.Create(logs)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logs, err)
	}
	defer out.Close() // the child has its own descriptor

	args := []string{"run", "--config", file, "--adapter", "caddyfile"}
	path := bin
	if pin {
		args = append([]string{"-c", "0", bin}, args...)
		path = "taskset"
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	if gogc != "" {
		cmd.Env = append(os.Environ(), "GOGC="+gogc)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	in := &instance{name: name, addr: addr, admin: adminOf(caddyfile), cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(in.exited) }()

	if err := in.waitReady(ctx, 30*time.Second); err != nil {
		in.stop()
		return nil, fmt.Errorf("%s did not start: %w\n%s", name, err, tail(logs, 20))
	}
	return in, nil
}

// childAttr puts a child in a process group of its own (so that the
// terminal's Ctrl-C reaches this process, which stops the child in order)
// and has the kernel kill it if this process dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitReady polls the instance until it answers any HTTP request.
func (in *instance) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{
		Timeout:       time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+in.addr+"/healthcheck", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-in.exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: %w", within, err)
		}
	}
}

// stop ends the instance's process group: SIGTERM, then SIGKILL after 10s.
// It is safe to call more than once.
func (in *instance) stop() {
	select {
	case <-in.exited:
		return
	default:
	}
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
		<-in.exited
	}
}

// pid is the process whose CPU time counts for the instance: the binary
// itself, also when taskset started it (taskset execs it, same PID).
func (in *instance) pid() int { return in.cmd.Process.Pid }

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
