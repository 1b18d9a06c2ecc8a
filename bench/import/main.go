// Command import measures `shortify import` (issue 17): it starts one
// control plane from the shipped Caddyfile on a fresh PostgreSQL database
// (the binary given, its embedded broker, an initial admin key), writes a
// plain CSV of -links links (half with an alias, half without, a tag each),
// runs `shortify import --from csv` on it as a user would, then runs it
// again, and prints one line:
//
//	import: links=100000 created=100000 seconds=31.2 links/s=3205 rerun: already=100000 seconds=14.0 loadavg=2.95 (goal < 60 s: met)
//
// The load average is the machine's (1 min) at the end of the first run:
// the machine is shared, so the rate says as much about the other work on
// it as about Shortify. `make bench-import` runs it; it needs PostgreSQL
// (make services) and the binary (make build). Flags: go run
// ./bench/import -h.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// goal is the issue's: 100,000 links in under a minute.
const goal = time.Minute

func main() {
	bin := flag.String("bin", "bin/shortify", "the shortify binary")
	caddyfile := flag.String("caddyfile", "Caddyfile", "the Caddyfile to run (the shipped one)")
	links := flag.Int("links", 100_000, "links to import")
	admin := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "a PostgreSQL database to create the benchmark's database from")
	parallel := flag.Int("parallel", 3, "the import's --parallel")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *caddyfile, *admin, *links, *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "bench/import:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, caddyfile, adminDSN string, links, parallel int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if caddyfile, err = filepath.Abs(caddyfile); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "shortify-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	dsn, drop, err := freshDatabase(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer drop()

	key, err := apikey.New()
	if err != nil {
		return err
	}
	server, stopServer, err := startControlPlane(ctx, bin, caddyfile, dir, dsn, key.Secret)
	if err != nil {
		return err
	}
	defer stopServer()

	file := filepath.Join(dir, "links.csv")
	if err := writeCSV(file, links); err != nil {
		return err
	}
	first, took, err := importFile(ctx, bin, server, key.Secret, file, parallel)
	if err != nil {
		return err
	}
	load := procs.LoadAverage()
	if first.Created != int64(links) || len(first.Failed) > 0 {
		return fmt.Errorf("the first run created %d of %d links, %d failed (first: %+v)", first.Created, links, len(first.Failed), firstFailure(first))
	}
	again, tookAgain, err := importFile(ctx, bin, server, key.Secret, file, parallel)
	if err != nil {
		return err
	}
	if again.Created != 0 || again.Existing != int64(links) {
		return fmt.Errorf("the second run created %d and found %d already imported, want 0 and %d", again.Created, again.Existing, links)
	}
	verdict := "met"
	if took >= goal*time.Duration(links)/100_000 {
		verdict = "NOT met"
	}
	fmt.Printf("import: links=%d created=%d seconds=%.1f links/s=%.0f rerun: already=%d seconds=%.1f loadavg=%s (goal < %s per 100,000: %s)\n",
		links, first.Created, took.Seconds(), float64(links)/took.Seconds(), again.Existing, tookAgain.Seconds(), load, goal, verdict)
	return nil
}

// report is the part of `shortify import --json`'s answer the benchmark
// checks.
type report struct {
	Read     int64 `json:"read"`
	Created  int64 `json:"created"`
	Existing int64 `json:"already_imported"`
	Failed   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"failed"`
}

func firstFailure(r report) any {
	if len(r.Failed) == 0 {
		return nil
	}
	return r.Failed[0]
}

// importFile runs `shortify import` on file, timing it.
func importFile(ctx context.Context, bin, server, key, file string, parallel int) (report, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, "import", "--from", "csv", "--quiet", "--json",
		"--parallel", fmt.Sprint(parallel), "--server", server, file)
	cmd.Env = append(os.Environ(), "SHORTIFY_API_KEY="+key)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var r report
	if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
		return r, took, fmt.Errorf("shortify import: %v: %v\n%s%s", err, jerr, out.String(), errOut.String())
	}
	if err != nil {
		return r, took, fmt.Errorf("shortify import: %w\n%s", err, tailOf(errOut.String(), 20))
	}
	return r, took, nil
}

// writeCSV writes n links in the plain CSV format: every other one with
// an alias, each with a tag.
func writeCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("url,alias,title,tags,expires_at,domain\n")
	for i := range n {
		alias := ""
		if i%2 == 0 {
			alias = fmt.Sprintf("imp-%d", i)
		}
		fmt.Fprintf(&b, "https://example.com/articles/%d?ref=import,%s,Article %d,bench|batch-%d,,\n", i, alias, i, i%10)
		if b.Len() > 1<<20 {
			if _, err := f.Write(b.Bytes()); err != nil {
				f.Close()
				return err
			}
			b.Reset()
		}
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// freshDatabase creates a database of its own from the admin DSN and
// returns its DSN and how to drop it.
func freshDatabase(ctx context.Context, adminDSN string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL (make services): %w", err)
	}
	name := fmt.Sprintf("shortify_bench_import_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(c, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "bench/import: drop the database:", err)
		}
		conn.Close(c)
	}
	return u.String(), drop, nil
}

// startControlPlane runs the Caddyfile with the binary: one node on
// PostgreSQL, its embedded broker, every port free on loopback. It
// returns the server's URL once the API answers.
func startControlPlane(ctx context.Context, bin, caddyfile, dir, dsn, key string) (string, func(), error) {
	addrs := make([]string, 3)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return "", nil, err
		}
		addrs[i] = a
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	logs := filepath.Join(dir, "shortify.log")
	out, err := os.Create(logs)
	if err != nil {
		return "", nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SHORTIFY_PORT="+port,
		"SHORTIFY_ADMIN=off",
		"SHORTIFY_DATA_DIR="+filepath.Join(dir, "data"),
		"SHORTIFY_DATABASE_URL="+dsn,
		"SHORTIFY_KAFKA_LISTEN="+addrs[1],
		"SHORTIFY_KAFKA_BROKERS="+addrs[1],
		"SHORTIFY_RAFT_BIND="+addrs[2],
		"SHORTIFY_INITIAL_API_KEY="+key,
		"SHORTIFY_ANONYMOUS_CREATE=off",
		"SHORTIFY_LOG_LEVEL=ERROR",
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	server := "http://" + addrs[0]
	if err := waitReady(ctx, server, key, exited); err != nil {
		stop()
		b, _ := os.ReadFile(logs)
		return "", nil, fmt.Errorf("the control plane did not start: %w\n%s", err, tailOf(string(b), 30))
	}
	return server, stop, nil
}

// waitReady polls the API with the key until a link listing answers 200
// (the node is leader and its store open).
func waitReady(ctx context.Context, server, key string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/api/v1/links?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained for reuse
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return fmt.Errorf("not ready within a minute: %v", last)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
