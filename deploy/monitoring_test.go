package deploy_test

import (
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// promConfig is the part of prometheus.yml the checks read.
type promConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		RelabelConfigs []struct {
			TargetLabel string `yaml:"target_label"`
			Replacement string `yaml:"replacement"`
		} `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

// exporterPorts are the ports the exporters' images listen on.
var exporterPorts = map[string]string{
	"prometheuscommunity/postgres-exporter": "9187",
	"oliver006/redis_exporter":              "9121",
	"danielqsj/kafka-exporter":              "9308",
}

// TestPrometheusTargets checks that Prometheus scrapes every Shortify
// process on its ops port and every engine through an exporter that
// exists, and nothing that is not a service.
func TestPrometheusTargets(t *testing.T) {
	f := loadCompose(t)
	var cfg promConfig
	readYAML(t, filepath.Join("prometheus", "prometheus.yml"), &cfg)
	scraped := map[string]int{}
	for _, sc := range cfg.ScrapeConfigs {
		var targets []string
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
		// Multi-target exporters: the real address is the relabelled one.
		for _, rc := range sc.RelabelConfigs {
			if rc.TargetLabel == "__address__" {
				targets = []string{rc.Replacement}
			}
		}
		for _, target := range targets {
			host, port, err := net.SplitHostPort(target)
			if err != nil {
				t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
				continue
			}
			if host == "localhost" {
				continue
			}
			s, ok := f.Services[host]
			if !ok {
				t.Errorf("job %s: target %s is no service", sc.JobName, target)
				continue
			}
			scraped[host]++
			want := "9180"
			if s.role() == "" {
				image, _, _ := strings.Cut(s.Image, ":")
				want = exporterPorts[image]
			}
			if port != want {
				t.Errorf("job %s: %s is scraped on port %s; it serves metrics on %q", sc.JobName, host, port, want)
			}
		}
	}
	for name, s := range f.Services {
		image, _, _ := strings.Cut(s.Image, ":")
		if (s.role() != "" || exporterPorts[image] != "") && scraped[name] != 1 {
			t.Errorf("%s is scraped %d times, want once", name, scraped[name])
		}
	}
	for _, engine := range []string{"postgres-exporter", "redis_exporter", "kafka-exporter"} {
		found := false
		for _, s := range f.Services {
			found = found || strings.Contains(s.Image, engine)
		}
		if !found {
			t.Errorf("no %s service", engine)
		}
	}
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// metricName matches the metric names in a PromQL expression that this
// project or Caddy defines.
var metricName = regexp.MustCompile(`\b(shortify_[a-z0-9_]+|caddy_[a-z0-9_]+)\b`)

// quoted matches PromQL string literals (label values such as
// handler="shortify_api"), which name no metric.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// metricNames returns the metric names expr queries.
func metricNames(expr string) []string {
	return metricName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}

// TestGrafanaDashboard checks the provisioning (the data source the
// dashboard names, the folder compose mounts) and that the dashboard has
// the panels the operators need, each querying metrics that exist: a
// shortify_* name must be defined in this repository's Go code and
// documented in the README, a caddy_* name defined in Caddy's.
func TestGrafanaDashboard(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yaml"), &ds)
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "dashboards", "shortify.yaml"), &prov)
	f := loadCompose(t)
	_, binds := f.Services["grafana"].mounts()
	if len(prov.Providers) != 1 || binds[prov.Providers[0].Options.Path] != "../grafana/dashboards" {
		t.Errorf("the dashboard provider reads %v; compose mounts the dashboards at another path: %v", prov.Providers, binds)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("want one data source at http://prometheus:9090, got %+v", ds.Datasources)
	}

	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("grafana", "dashboards", "shortify.json"))), &d); err != nil {
		t.Fatalf("shortify.json: %v", err)
	}
	var titles []string
	queried := map[string]bool{}
	defined := goSource(t, repoRoot)
	caddySrc := goSource(t, caddyDir(t))
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
		if p.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("panel %q uses data source %q, want %q", p.Title, p.Datasource.UID, ds.Datasources[0].UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricNames(tg.Expr) {
				checkMetric(t, p.Title, m, defined, caddySrc)
				queried[m] = true
			}
		}
	}
	for _, want := range []string{"Redirects/s", "Cache hit ratio per tier", "p99 latency", "Dropped events",
		"Consumer lag", "Raft leader", "Creates/s"} {
		if !slices.Contains(titles, want) {
			t.Errorf("the dashboard has no %q panel", want)
		}
	}
	readme := readFile(t, filepath.Join(repoRoot, "README.md"))
	for m := range queried {
		base := histogramBase(m)
		if strings.HasPrefix(base, "shortify_") && !strings.Contains(readme, base) {
			t.Errorf("the dashboard queries %s, which the README's metrics section does not document", base)
		}
	}
	for _, want := range []string{"shortify_cp_raft_leader", "shortify_cp_link_creates_total"} {
		if !queried[want] {
			t.Errorf("the dashboard does not query %s", want)
		}
	}
}

// TestPrometheusRules checks the alerting rules: the file prometheus.yml
// loads is the one compose mounts there, and every rule is an alert with
// a severity and a summary whose query names metrics that exist (and, for
// Shortify's, that the README documents).
func TestPrometheusRules(t *testing.T) {
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAML(t, filepath.Join("prometheus", "prometheus.yml"), &cfg)
	_, binds := loadCompose(t).Services["prometheus"].mounts()
	if len(cfg.RuleFiles) != 1 || binds[cfg.RuleFiles[0]] != "../prometheus/rules.yml" {
		t.Fatalf("prometheus.yml loads rules from %v; compose mounts %v", cfg.RuleFiles, binds)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join("prometheus", "rules.yml"), &rules)
	defined := goSource(t, repoRoot)
	caddySrc := goSource(t, caddyDir(t))
	readme := readFile(t, filepath.Join(repoRoot, "README.md"))
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: rule %q lacks an alert name, a severity or a summary", g.Name, r.Alert)
			}
			names := metricNames(r.Expr)
			if len(names) == 0 {
				t.Errorf("alert %s queries no Shortify or Caddy metric: %s", r.Alert, r.Expr)
			}
			for _, m := range names {
				checkMetric(t, "alert "+r.Alert, m, defined, caddySrc)
				if base := histogramBase(m); strings.HasPrefix(base, "shortify_") && !strings.Contains(readme, base) {
					t.Errorf("alert %s queries %s, which the README does not document", r.Alert, base)
				}
			}
		}
	}
	if alerts == 0 {
		t.Error("rules.yml has no alerts")
	}
}

// histogramBase is m without a histogram's _bucket, _count or _sum.
func histogramBase(m string) string {
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		m = strings.TrimSuffix(m, suf)
	}
	return m
}

// TestMetricNamesIgnoreLabelValues: a label value that looks like a
// metric name is not taken for one.
func TestMetricNamesIgnoreLabelValues(t *testing.T) {
	got := metricNames(`sum(rate(caddy_http_requests_total{handler="shortify_api",x="a\"shortify_b"}[1m])) / shortify_cp_raft_leader`)
	if !slices.Equal(got, []string{"caddy_http_requests_total", "shortify_cp_raft_leader"}) {
		t.Fatalf("metricNames: %v", got)
	}
}

// checkMetric checks that metric m (perhaps with a histogram suffix) is
// defined in src: as a whole name, or as the namespace, subsystem and
// name that client_golang joins.
func checkMetric(t *testing.T, panel, m, shortify, caddySrc string) {
	t.Helper()
	base := histogramBase(m)
	src, prefix := shortify, "shortify_"
	if strings.HasPrefix(base, "caddy_") {
		src, prefix = caddySrc, "caddy_"
	}
	rest := strings.TrimPrefix(base, prefix)
	if strings.Contains(src, `"`+base+`"`) {
		return
	}
	// Namespace + Subsystem + Name: some split of rest names a subsystem
	// string and a name string in the source.
	for i := strings.Index(rest, "_"); i > 0; i = nextUnderscore(rest, i) {
		if strings.Contains(src, `"`+rest[:i]+`"`) && strings.Contains(src, `"`+rest[i+1:]+`"`) {
			return
		}
	}
	if strings.Contains(src, `"`+rest+`"`) {
		return
	}
	t.Errorf("panel %q queries %s, which no code defines", panel, m)
}

func nextUnderscore(s string, i int) int {
	j := strings.Index(s[i+1:], "_")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// goSource returns the non-test Go source under root, concatenated.
func goSource(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.Write(src)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// caddyDir is the module directory of the Caddy this repository builds.
func caddyDir(t *testing.T) string {
	t.Helper()
	out := goList(t, "-m", "-f", "{{.Dir}}", "github.com/caddyserver/caddy/v2")
	return filepath.Join(out, "modules")
}

// handlerLabel matches the handler label of a PromQL selector, exact or a
// regular expression of alternatives: handler="x" or handler=~"x|y".
var handlerLabel = regexp.MustCompile(`handler=~?"([^"]*)"`)

// TestDashboardHandlerLabels: every handler a dashboard query selects by
// Caddy's handler label is a registered handler module, so that renaming
// a module (the edge's shortify, now shortify_edge) cannot leave a panel
// silently empty; the edge's panel keeps both names while the old one is
// deprecated.
func TestDashboardHandlerLabels(t *testing.T) {
	b := readFile(t, filepath.Join("grafana", "dashboards", "shortify.json"))
	var d dashboard
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		t.Fatal(err)
	}
	edge := false
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range handlerLabel.FindAllStringSubmatch(tg.Expr, -1) {
				for _, name := range strings.Split(m[1], "|") {
					if _, err := caddy.GetModule("http.handlers." + name); err != nil {
						t.Errorf("panel %q selects handler %q, which is no handler module: %v", p.Title, name, err)
					}
					edge = edge || name == "shortify_edge"
				}
			}
		}
	}
	if !edge {
		t.Errorf("no panel selects the edge handler, shortify_edge")
	}
}
