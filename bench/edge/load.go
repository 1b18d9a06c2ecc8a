package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// codesLua is the wrk script; the harness writes it next to the codes.
//
//go:embed codes.lua
var codesLua []byte

// newClient is an HTTP client that does not follow redirects, with conc
// keep-alive connections.
func newClient(conc int) (*http.Client, func()) {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, DisableCompression: true}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, tr.CloseIdleConnections
}

// preflight waits until the instance answers on the custom domain (its
// registry of domains loads in the background, within a second of its
// start) and checks that the host is part of the key: a custom-domain
// code asked on the own host, and an own-host code asked on the custom
// domain, are 404s, and so is any code on a host the edge does not know.
func preflight(ctx context.Context, addr string, links linkSet, codes []string) error {
	client, closeIdle := newClient(1)
	defer closeIdle()
	first := func(onDomain bool) int {
		for i := range codes {
			if links.onDomain(i) == onDomain {
				return i
			}
		}
		return -1
	}
	dom, own := first(true), first(false)
	if dom >= 0 {
		// A 404 until the mirror has loaded; then the link's answer,
		// which check judges at once.
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _, err := get(ctx, client, addr, customDomain, codes[dom])
			if err == nil && status != http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("the custom domain %s does not answer within 30s (is it in the mirror?): status %d, %v", customDomain, status, err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if _, err := check(ctx, client, addr, customDomain, codes[dom], links.urls(codes[dom])); err != nil {
			return err
		}
	}
	type probe struct{ host, code string }
	var wrong []probe
	if dom >= 0 {
		wrong = append(wrong, probe{ownHost, codes[dom]})
	}
	if own >= 0 {
		wrong = append(wrong, probe{customDomain, codes[own]}, probe{"unknown.bench.example", codes[own]})
	}
	for _, w := range wrong {
		status, loc, err := get(ctx, client, addr, w.host, w.code)
		if err != nil {
			return err
		}
		if status != http.StatusNotFound {
			return fmt.Errorf("GET /%s with Host %s: %d to %q, want 404 (the code is not a link of that host)", w.code, w.host, status, loc)
		}
	}
	return nil
}

// warm requests every code once, with the Host of its link, from conc
// keep-alive connections and checks each answer: a 302 to one of the
// link's URLs (linkSet.urls: the link's own for a plain link, a rule's or
// a variant's for a smart one). It fills the instance's L1 (and, through
// its misses, Redis). It returns how many answers went to each position of
// linkSet.urls, so that the smart case shows the split deciding.
func warm(ctx context.Context, addr string, links linkSet, codes []string, conc int) (time.Duration, []int64, error) {
	client, closeIdle := newClient(conc)
	defer closeIdle()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	begin := time.Now()
	var next atomic.Int64
	tally := make([]atomic.Int64, len(links.choiceNames()))
	var wg sync.WaitGroup
	// A million requests take a while on a busy machine: say how far.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := min(next.Load(), int64(len(codes)))
				fmt.Printf("  ... warm-up: %d of %d codes after %s\n", n, len(codes), time.Since(begin).Round(time.Second))
			}
		}
	}()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(codes)) {
					return
				}
				pos, err := check(ctx, client, addr, links.host(int(i)), codes[i], links.urls(codes[i]))
				if err != nil {
					cancel(err)
					return
				}
				tally[pos].Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, nil, fmt.Errorf("warm %s: %w", addr, err)
	}
	counts := make([]int64, len(tally))
	for i := range tally {
		counts[i] = tally[i].Load()
	}
	return time.Since(begin), counts, nil
}

// check asks for one code on host and expects a 302 to one of want; it
// returns that one's position in want.
func check(ctx context.Context, client *http.Client, addr, host, code string, want []string) (int, error) {
	status, loc, err := get(ctx, client, addr, host, code)
	if err != nil {
		return 0, err
	}
	if pos := slices.Index(want, loc); status == http.StatusFound && pos >= 0 {
		return pos, nil
	}
	if len(want) == 1 {
		return 0, fmt.Errorf("GET /%s with Host %s: %d to %q, want 302 to %q", code, host, status, loc, want[0])
	}
	return 0, fmt.Errorf("GET /%s with Host %s: %d to %q, want 302 to one of %q (the link's rules and variants: does this build store and evaluate smart links?)", code, host, status, loc, want)
}

// get asks addr for /code with the Host header host and returns the
// status and Location of the answer.
func get(ctx context.Context, client *http.Client, addr, host, code string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/"+code, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// result is one wrk run.
type result struct {
	requests int64
	duration time.Duration
	p50, p99 time.Duration
	max      time.Duration
	errors   map[string]int64 // connect, read, write, status (non-2xx/3xx), timeout
	cpu      time.Duration    // CPU time the server used during the run
	sent     int64            // requests codes.lua formatted, all hosts
	custom   int64            // of them, on the custom domain
}

// customShare is the share of the run's requests that named the custom
// domain (counted by codes.lua), 0 when it counted none.
func (r result) customShare() float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(r.custom) / float64(r.sent)
}

func (r result) rps() float64 { return float64(r.requests) / r.duration.Seconds() }

// cpuPerRequest is the server's CPU time per answered request.
func (r result) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// errBadAnswers is wrapped by wrkRun.run's error when wrk completed but
// counted socket errors or answers that are not 2xx/3xx; the result is
// returned with it.
var errBadAnswers = errors.New("errors")

// wrkRun is how wrk is run.
type wrkRun struct {
	threads, conns int
	duration       time.Duration
	script         string // path of codes.lua
	pin            bool   // run wrk on CPU 1
	verbose        bool
}

// run drives wrk against in with the codes file and returns its result.
// A run with any error (socket errors or answers other than 2xx/3xx)
// fails: a fast 404 is not a redirect.
func (w wrkRun) run(ctx context.Context, in *instance, codesPath string) (result, error) {
	args := []string{
		"-t" + strconv.Itoa(w.threads), "-c" + strconv.Itoa(w.conns),
		"-d" + strconv.Itoa(int(w.duration.Seconds())) + "s",
		"--latency", "--timeout", "5s",
		"-s", w.script, "http://" + in.addr + "/", "--", codesPath, ownHost,
	}
	path := "wrk"
	if w.pin {
		args = append([]string{"-c", "1", "wrk"}, args...)
		path = "taskset"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out

	cpu0, err := procs.CPUTime(in.pid())
	if err != nil {
		return result{}, err
	}
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk against %s: %w\n%s", in.name, err, out.String())
	}
	cpu1, err := procs.CPUTime(in.pid())
	if err != nil {
		return result{}, err
	}
	if w.verbose {
		fmt.Print(out.String())
	}
	r, err := parseWrk(out.String())
	if err != nil {
		return result{}, fmt.Errorf("wrk against %s: %w\n%s", in.name, err, out.String())
	}
	r.cpu = cpu1 - cpu0
	var bad []string
	for _, k := range []string{"connect", "read", "write", "status", "timeout"} {
		if r.errors[k] != 0 {
			bad = append(bad, fmt.Sprintf("%s=%d", k, r.errors[k]))
		}
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("wrk against %s: %w: %s (status counts answers that are not 2xx/3xx)\n%s", in.name, errBadAnswers, strings.Join(bad, " "), out.String())
	}
	return r, nil
}

// parseWrk reads the BENCH line that codes.lua's done() prints.
func parseWrk(out string) (result, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "BENCH ")
		if !ok {
			continue
		}
		v := make(map[string]int64)
		for _, kv := range strings.Fields(line) {
			k, s, ok := strings.Cut(kv, "=")
			if !ok {
				return result{}, fmt.Errorf("bad field %q", kv)
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return result{}, fmt.Errorf("field %s: %w", k, err)
			}
			v[k] = n
		}
		for _, k := range []string{"requests", "duration_us", "p50_us", "p99_us", "max_us"} {
			if _, ok := v[k]; !ok {
				return result{}, fmt.Errorf("no %s in %q", k, line)
			}
		}
		if v["duration_us"] <= 0 {
			return result{}, errors.New("zero duration")
		}
		r := result{
			requests: v["requests"],
			duration: time.Duration(v["duration_us"]) * time.Microsecond,
			p50:      time.Duration(v["p50_us"]) * time.Microsecond,
			p99:      time.Duration(v["p99_us"]) * time.Microsecond,
			max:      time.Duration(v["max_us"]) * time.Microsecond,
			errors:   make(map[string]int64),
		}
		for _, k := range []string{"connect", "read", "write", "status", "timeout"} {
			r.errors[k] = v[k]
		}
		r.sent, r.custom = v["sent"], v["custom"]
		if r.custom > r.sent {
			return result{}, fmt.Errorf("custom=%d is more than sent=%d", r.custom, r.sent)
		}
		return r, nil
	}
	return result{}, errors.New("no BENCH line in wrk's output (codes.lua's done)")
}
