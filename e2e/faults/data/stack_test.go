//go:build faults

package data

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// stackStartTimeout bounds the start of the whole stack on a busy
// machine (about a minute on an idle one).
const stackStartTimeout = 4 * time.Minute

// fixture is a running stack and a client of it.
type fixture struct {
	t    *testing.T
	s    *stack.Stack
	hc   *http.Client
	pids map[*stack.Node]int // every Shortify process's pid at the start
}

// link is the part of the API's link that the tests read.
type link struct {
	Code string `json:"code"`
	URL  string `json:"url"`
}

// startStack starts the production shape with env added to every
// Shortify process's environment, and stops it when the test ends (with
// the processes' logs when the test failed).
func startStack(t *testing.T, env ...string) *fixture {
	t.Helper()
	bin := testenv.Shortify(t)
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL runs as the postgres user when the tests run as root.
	dir := testenv.PublicTempDir(t, "shortify-faults-")
	ctx, cancel := context.WithTimeout(t.Context(), stackStartTimeout)
	defer cancel()
	begin := time.Now()
	s, err := stack.Start(ctx, stack.Config{
		Dir: filepath.Join(dir, "stack"), Binary: bin, Caddyfiles: filepath.Join(testenv.RepoRoot(), "deploy", "caddyfiles"),
		Ports: ports, Env: env, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	f := &fixture{t: t, s: s, pids: map[*stack.Node]int{}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range f.shortifyNodes() {
				t.Logf("--- %s log (end):\n%s", n.Name, n.LogTail())
			}
		}
		if err := s.Stop(); err != nil {
			t.Logf("stop the stack: %v", err)
		}
	})
	for _, n := range f.shortifyNodes() {
		f.pids[n] = n.Pid()
	}
	f.hc = &http.Client{
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
		// Redirects are what the edges answer: read them, never follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(f.hc.CloseIdleConnections)
	t.Logf("stack up after %v", time.Since(begin).Round(time.Millisecond))
	return f
}

// shortifyNodes are the stack's Shortify processes.
func (f *fixture) shortifyNodes() []*stack.Node {
	s := f.s
	return append(append(append([]*stack.Node{s.FrontDoor, s.Kafka}, s.Nodes...), s.Edges...), s.Stats...)
}

// checkNoRestart fails the test unless every Shortify process still runs
// with the pid it started with: the fault was ridden out, not restarted
// away.
func (f *fixture) checkNoRestart() {
	f.t.Helper()
	for n, pid := range f.pids {
		if !n.Running() || n.Pid() != pid {
			f.t.Errorf("%s: running %v, pid %d (was %d): a Shortify process did not survive the fault", n.Name, n.Running(), n.Pid(), pid)
		}
	}
}

// clientIP is the i-th of a few hundred client addresses (documentation
// ranges), sent in X-Forwarded-For to an edge, which trusts the loopback
// address it comes from: the edges' per-client limits (rate_limit,
// miss_limit) then see many clients, as in production, not one.
func clientIP(i int) string {
	i %= 500
	if i < 250 {
		return "198.51.100." + strconv.Itoa(i+1)
	}
	return "203.0.113." + strconv.Itoa(i-249)
}

// createResult is the answer to one create.
type createResult struct {
	status     int
	retryAfter string
	link       link
	body       string
}

// create asks base's API (the front door or a node) to shorten target,
// under alias when not empty.
func (f *fixture) create(ctx context.Context, base, target, alias string) (createResult, error) {
	body := map[string]string{"url": target}
	if alias != "" {
		body["alias"] = alias
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/links", strings.NewReader(string(b)))
	if err != nil {
		return createResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", f.s.APIKey)
	resp, err := f.hc.Do(req)
	if err != nil {
		return createResult{}, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return createResult{}, err
	}
	r := createResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(got)}
	if r.status == http.StatusCreated {
		if err := json.Unmarshal(got, &r.link); err != nil {
			return r, fmt.Errorf("create: %w: %s", err, got)
		}
		if r.link.URL != target || r.link.Code == "" {
			return r, fmt.Errorf("create %s: answered %+v", target, r.link)
		}
	}
	return r, nil
}

// getLink reads a link through base's API.
func (f *fixture) getLink(ctx context.Context, base, code string) (int, link, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/links/"+code, nil)
	if err != nil {
		return 0, link{}, err
	}
	req.Header.Set("X-Api-Key", f.s.APIKey)
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, link{}, err
	}
	defer resp.Body.Close()
	var l link
	got, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(got, &l)
	}
	return resp.StatusCode, l, err
}

// redirect asks base (an edge or the front door) for /code as client
// (an address for X-Forwarded-For; "" sends none) and returns the status
// and Location.
func (f *fixture) redirect(ctx context.Context, base, code, client string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+code, nil)
	if err != nil {
		return 0, "", err
	}
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// metric returns the sum of the samples of n's /metrics whose series
// (name and labels, as written) start with series: a counter across its
// label values, or one labelled series.
func (f *fixture) metric(ctx context.Context, n *stack.Node, series string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.Ops+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/metrics: %s", n.Ops, resp.Status)
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, series) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s/metrics: %q: %w", n.Ops, line, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s/metrics: no series %s", n.Ops, series)
	}
	return sum, nil
}

// edgesMetric is metric summed over every edge.
func (f *fixture) edgesMetric(ctx context.Context, series string) (float64, error) {
	var sum float64
	for _, e := range f.s.Edges {
		v, err := f.metric(ctx, e, series)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// linkRows returns the link database's rows whose target starts with
// prefix, as target → codes (one code each, unless a create was stored
// twice).
func (f *fixture) linkRows(ctx context.Context, dsn, prefix string) (map[string][]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT url, code FROM links WHERE url LIKE $1", prefix+"%")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var url, code string
	if _, err := pgx.ForEachRow(rows, []any{&url, &code}, func() error {
		out[url] = append(out[url], code)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// createMany creates n links to prefix+i through the front door, workers
// at a time, failing the test on any error.
func (f *fixture) createMany(prefix string, n int) []link {
	f.t.Helper()
	out := make([]link, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				r, err := f.create(f.t.Context(), f.s.FrontDoor.URL, prefix+strconv.Itoa(i), "")
				if err == nil && r.status != http.StatusCreated {
					err = fmt.Errorf("create %s%d: %d %s", prefix, i, r.status, r.body)
				}
				if err != nil {
					errs <- err
					continue
				}
				out[i] = r.link
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (all []error) {
		for e := range errs {
			all = append(all, e)
		}
		return
	}()...); err != nil {
		f.t.Fatal(err)
	}
	return out
}
