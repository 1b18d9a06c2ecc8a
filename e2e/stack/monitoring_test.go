package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// notInStack are the dashboard's metrics that the local stack does not
// export: kafka-exporter's (compose and Kubernetes run it).
var notInStack = []string{"kafka_consumergroup_lag"}

// monitoringWait bounds each wait: for Prometheus's start and first
// scrapes to give every query series, then for its rule evaluations
// (every second here).
const monitoringWait = 60 * time.Second

// checkMonitoring runs a real Prometheus (Debian's) against the running
// stack, with deploy/prometheus/rules.yml, and checks what the Grafana
// dashboard and the alerts rely on: every query of every dashboard panel
// returns series (a renamed metric or label would return none and leave
// a panel silently empty), and every alerting rule evaluates without an
// error.
func checkMonitoring(t *testing.T, s *stack.Stack, dir string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("monitoring checked in %v", time.Since(start).Round(time.Millisecond)) }()
	bin := testenv.Command(t, "prometheus", "prometheus")
	port, err := procs.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	root := testenv.RepoRoot()
	config := filepath.Join(dir, "prometheus.yml")
	rules := filepath.Join(root, "deploy", "prometheus", "rules.yml")
	if err := os.WriteFile(config, []byte(prometheusConfig(s, rules)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.listen-address="+strings.TrimPrefix(base, "http://"))
	p, err := procs.Start("prometheus", cmd, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Errorf("stop prometheus: %v", err)
		}
	}()
	queries := dashboardQueries(t, filepath.Join(root, "deploy", "grafana", "dashboards", "shortify.json"))
	ctx, cancel := context.WithTimeout(t.Context(), monitoringWait)
	defer cancel()
	err = procs.Poll(ctx, "every dashboard query to return series", time.Second, p, func(ctx context.Context) error {
		var empty []string
		for _, q := range queries {
			var res struct{ Result []json.RawMessage }
			if err := promAPI(ctx, base, "/api/v1/query?query="+url.QueryEscape(q), &res); err != nil {
				return err
			}
			if len(res.Result) == 0 {
				empty = append(empty, q)
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("%d queries return nothing: %s", len(empty), strings.Join(empty, "; "))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), monitoringWait)
	defer cancel()
	err = procs.Poll(ctx, "every alerting rule evaluated", time.Second, p, func(ctx context.Context) error {
		var groups struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
		if err := promAPI(ctx, base, "/api/v1/rules", &groups); err != nil {
			return err
		}
		n := 0
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					return fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("no rules loaded from %s", rules)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// prometheusConfig scrapes every Shortify process of s each second under
// the job names of deploy/prometheus/prometheus.yml, which the dashboard
// and the rules select on.
func prometheusConfig(s *stack.Stack, rules string) string {
	targets := func(ns ...*stack.Node) string {
		var hs []string
		for _, n := range ns {
			hs = append(hs, `"`+strings.TrimPrefix(n.Ops, "http://")+`"`)
		}
		return "[" + strings.Join(hs, ", ") + "]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n", rules)
	for _, j := range []struct {
		job   string
		nodes []*stack.Node
	}{
		{"shortify-controlplane", s.Nodes},
		{"shortify-edge", s.Edges},
		{"shortify-stats", s.Stats},
		{"shortify-frontdoor", []*stack.Node{s.FrontDoor}},
	} {
		fmt.Fprintf(&b, "  - job_name: %s\n    static_configs: [{targets: %s}]\n", j.job, targets(j.nodes...))
	}
	return b.String()
}

// dashboardQueries returns the dashboard's queries, with Grafana's
// $__rate_interval as 15s (15 scrapes here), but for those of metrics the
// stack does not export.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var qs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if !slices.ContainsFunc(notInStack, func(m string) bool { return strings.Contains(tg.Expr, m) }) {
				qs = append(qs, strings.ReplaceAll(tg.Expr, "$__rate_interval", "15s"))
			}
		}
	}
	if len(qs) == 0 {
		t.Fatalf("%s: no queries", path)
	}
	return qs
}

// promAPI GETs a Prometheus API path and decodes its data into v.
func promAPI(ctx context.Context, base, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string
		Error  string
		Data   json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}
