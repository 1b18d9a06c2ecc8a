package deploy_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// secretName matches the variables that carry a secret.
var secretName = regexp.MustCompile(`PASSWORD|SECRET|_KEY|TOKEN`)

// TestComposeRequiresSecrets: compose refuses to start while a secret is
// unset, naming it, instead of running with a default anyone can read in
// this repository (it ran with shortify-dev-password and
// compose-visitor-key-change-me before). The required variables are exactly
// composeSecrets, and no secret has a non-empty default.
func TestComposeRequiresSecrets(t *testing.T) {
	raw := readFile(t, filepath.Join(composeDir, "compose.yaml"))
	required := map[string]bool{}
	for _, m := range composeVar.FindAllStringSubmatch(raw, -1) {
		switch {
		case m[4] != "":
			required[m[1]] = true
		case m[2] != "" && secretName.MatchString(m[1]) && m[3] != "":
			t.Errorf("compose.yaml: %s has the default %q; a secret must be required (${%s:?...})", m[1], m[3], m[1])
		}
	}
	if got, want := slices.Sorted(maps.Keys(required)), slices.Sorted(maps.Keys(composeSecrets)); !slices.Equal(got, want) {
		t.Errorf("compose.yaml requires %v; the tests know %v", got, want)
	}
	path := filepath.Join(composeDir, "compose.yaml")
	for name := range composeSecrets {
		env := maps.Clone(composeSecrets)
		delete(env, name)
		_, err := composeSpec(path, env)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("compose.yaml loads without %s (error %v); want an error that names it", name, err)
		}
		if _, err := interpolate(raw, env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("interpolate without %s: error %v, want one that names it", name, err)
		}
	}

	// Set, they reach the services that use them.
	p := loadComposeSpec(t)
	for svc, want := range map[string]map[string]string{
		"cp-1":       {"SHORTIFY_VISITOR_KEY": composeSecrets["SHORTIFY_VISITOR_KEY"]},
		"pg-primary": {"POSTGRES_PASSWORD": composeSecrets["SHORTIFY_PG_PASSWORD"], "REPLICATION_PASSWORD": composeSecrets["SHORTIFY_REPLICATION_PASSWORD"]},
		"stats-db":   {"POSTGRES_PASSWORD": composeSecrets["SHORTIFY_STATS_PG_PASSWORD"]},
		"grafana":    {"GF_SECURITY_ADMIN_PASSWORD": composeSecrets["GRAFANA_ADMIN_PASSWORD"]},
	} {
		e := env(p.Services[svc])
		for k, v := range want {
			if e[k] != v {
				t.Errorf("%s: %s = %q, want the operator's %q", svc, k, e[k], v)
			}
		}
	}
	if dsn := env(p.Services["edge-1"])["SHORTIFY_DATABASE_URL"]; !strings.Contains(dsn, ":"+composeSecrets["SHORTIFY_PG_PASSWORD"]+"@") {
		t.Errorf("edge-1's database URL %q does not carry SHORTIFY_PG_PASSWORD", dsn)
	}
}

// TestComposeMonitoringPrivate: Prometheus and Grafana are published on
// the host's loopback interface only (they were on every interface, and
// Prometheus without a password), and both ask for one.
func TestComposeMonitoringPrivate(t *testing.T) {
	p := loadComposeSpec(t)
	for _, name := range []string{"prometheus", "grafana"} {
		s := p.Services[name]
		if len(s.Ports) == 0 {
			t.Errorf("%s publishes no port", name)
		}
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on host address %q; want 127.0.0.1", name, port.Published, port.HostIP)
			}
		}
	}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP == "" && name != "frontdoor" {
				t.Errorf("%s publishes %s on every interface; only the front door may", name, port.Published)
			}
		}
	}

	// Prometheus: basic authentication from its web config, a bcrypt hash.
	prom := p.Services["prometheus"]
	var webConfig string
	for _, a := range prom.Command {
		if v, ok := strings.CutPrefix(a, "--web.config.file="); ok {
			webConfig = v
		}
	}
	files := configFiles(t, p, prom)
	if !strings.Contains(files[webConfig], "basic_auth_users:") || !strings.Contains(files[webConfig], "admin: '"+composeSecrets["PROMETHEUS_PASSWORD_HASH"]+"'") {
		t.Errorf("Prometheus's web config %q is %q; want basic_auth_users with admin's hash", webConfig, files[webConfig])
	}

	// Its own scrape and Grafana's data source send the password.
	var cfg struct {
		ScrapeConfigs []struct {
			JobName   string `yaml:"job_name"`
			BasicAuth struct {
				Username     string `yaml:"username"`
				PasswordFile string `yaml:"password_file"`
			} `yaml:"basic_auth"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join("prometheus", "prometheus.yml"), &cfg)
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "prometheus" && (sc.BasicAuth.Username != "admin" || files[sc.BasicAuth.PasswordFile] != composeSecrets["PROMETHEUS_PASSWORD"]) {
			t.Errorf("Prometheus scrapes itself as %q with password file %q (%q); want admin and PROMETHEUS_PASSWORD",
				sc.BasicAuth.Username, sc.BasicAuth.PasswordFile, files[sc.BasicAuth.PasswordFile])
		}
	}
	var ds struct {
		Datasources []struct {
			BasicAuth      bool              `yaml:"basicAuth"`
			BasicAuthUser  string            `yaml:"basicAuthUser"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yaml"), &ds)
	if len(ds.Datasources) != 1 || !ds.Datasources[0].BasicAuth || ds.Datasources[0].BasicAuthUser != "admin" ||
		ds.Datasources[0].SecureJSONData["basicAuthPassword"] != "$PROMETHEUS_PASSWORD" {
		t.Errorf("Grafana's data source does not send admin and $PROMETHEUS_PASSWORD: %+v", ds.Datasources)
	}
	if got := env(p.Services["grafana"])["PROMETHEUS_PASSWORD"]; got != composeSecrets["PROMETHEUS_PASSWORD"] {
		t.Errorf("Grafana's PROMETHEUS_PASSWORD is %q", got)
	}
}

// configFiles returns the compose configs s mounts: target path to
// content (inline, or the file's).
func configFiles(t *testing.T, p *types.Project, s types.ServiceConfig) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range s.Configs {
		def, ok := p.Configs[c.Source]
		if !ok {
			t.Errorf("%s mounts config %s, which is not defined", s.Name, c.Source)
			continue
		}
		content := def.Content
		if def.File != "" {
			b, err := os.ReadFile(def.File)
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		out[c.Target] = content
	}
	return out
}
