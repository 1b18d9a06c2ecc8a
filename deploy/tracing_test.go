package deploy_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"gopkg.in/yaml.v3"
)

// TestCaddyfilesTracing: the root Caddyfile and the role Caddyfiles that
// serve HTTP requests have Caddy's tracing handler on their public site
// exactly when SHORTIFY_TRACING=on (span named by role), and none of
// them has it by default, so that no exporter is built; a value other
// than on or off fails to adapt rather than being taken for off.
func TestCaddyfilesTracing(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "n1.caddy")
	if err := os.WriteFile(bootstrap, []byte("bootstrap true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"cluster/n1.caddy": bootstrap}
	for file, span := range map[string]string{
		filepath.Join(repoRoot, "Caddyfile"):                  "shortify",
		filepath.Join("caddyfiles", "edge.Caddyfile"):         "shortify.edge",
		filepath.Join("caddyfiles", "controlplane.Caddyfile"): "shortify.controlplane",
		filepath.Join("caddyfiles", "frontdoor.Caddyfile"):    "shortify.frontdoor",
		filepath.Join("caddyfiles", "stats.Caddyfile"):        "", // no public site: the ingest only
	} {
		for _, sw := range []string{"", "off", "on"} {
			cfg := adaptRole(t, file+" SHORTIFY_TRACING="+sw, file, map[string]string{"SHORTIFY_NODE_ID": "n1", "SHORTIFY_TRACING": sw}, extra)
			if cfg == nil {
				continue
			}
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			handlers := strings.Count(string(b), `"handler":"tracing"`)
			want := 0
			if sw == "on" && span != "" {
				want = 1
			}
			if handlers != want {
				t.Errorf("%s with SHORTIFY_TRACING=%q: %d tracing handlers, want %d", file, sw, handlers, want)
			}
			if want == 1 && !strings.Contains(string(b), `"span":"`+span+`"`) {
				t.Errorf("%s: the tracing handler's span is not %q", file, span)
			}
		}
		if span == "" {
			continue
		}
		if _, err := adaptCaddyfile(t, file, map[string]string{"SHORTIFY_NODE_ID": "n1", "SHORTIFY_TRACING": "true"}, extra); err == nil {
			t.Errorf("%s: SHORTIFY_TRACING=true adapted; want an error (only on and off)", file)
		}
	}
}

// TestComposeTracing: compose.yaml keeps tracing off by default (every
// Shortify service and the front door has SHORTIFY_TRACING=off, and the
// jaeger service is in the tracing profile only, so that it does not
// run); with SHORTIFY_TRACING=on and --profile tracing every one of them
// exports to the jaeger service by OTLP/HTTP under its role's service
// name, and Jaeger's UI is published on loopback only.
func TestComposeTracing(t *testing.T) {
	f := loadCompose(t)
	roles := 0
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		role := s.role()
		if role == "" {
			continue
		}
		roles++
		env := s.Environment
		if env["SHORTIFY_TRACING"] != "off" {
			t.Errorf("%s: SHORTIFY_TRACING=%q by default, want off", name, env["SHORTIFY_TRACING"])
		}
		if env["OTEL_SERVICE_NAME"] != "shortify-"+role {
			t.Errorf("%s: OTEL_SERVICE_NAME=%q, want shortify-%s", name, env["OTEL_SERVICE_NAME"], role)
		}
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4318" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want the jaeger service's OTLP/HTTP port", name, env["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
	}
	if roles < 8 {
		t.Errorf("%d Shortify services; want the 3 control-plane nodes, 2 edges, 2 stats and the front door", roles)
	}

	path := filepath.Join(composeDir, "compose.yaml")
	byDefault := loadComposeSpec(t)
	if _, ok := byDefault.Services["jaeger"]; ok {
		t.Error("the jaeger service runs without --profile tracing")
	}
	env := map[string]string{"SHORTIFY_TRACING": "on"}
	for k, v := range composeSecrets {
		env[k] = v
	}
	p, err := composeSpec(path, env, cli.WithProfiles([]string{"tracing"}))
	if err != nil {
		t.Fatalf("compose.yaml with --profile tracing: %v", err)
	}
	j, ok := p.Services["jaeger"]
	if !ok {
		t.Fatal("no jaeger service with --profile tracing")
	}
	if _, ok := j.Networks["shortify"]; !ok {
		t.Errorf("jaeger is not on the shortify network: %v", j.Networks)
	}
	if len(j.Ports) != 1 || j.Ports[0].Target != 16686 || j.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("jaeger publishes %+v; want its UI (16686) on 127.0.0.1 only", j.Ports)
	}
	on := 0
	for name, s := range p.Services {
		if v := s.Environment["SHORTIFY_TRACING"]; v != nil {
			if *v != "on" {
				t.Errorf("%s: SHORTIFY_TRACING=%q with SHORTIFY_TRACING=on in the environment", name, *v)
			}
			on++
		}
	}
	if on != roles {
		t.Errorf("%d services take SHORTIFY_TRACING, want the %d Shortify services", on, roles)
	}
}

// TestKubernetesTracing: the Kubernetes manifests keep tracing off by
// default (shortify-env's tracing is "off", and the collector is a
// kustomization of its own that the main one does not include); every
// Shortify container takes the switch and the endpoint from shortify-env
// and names its role in OTEL_SERVICE_NAME; and deploy/kubernetes/tracing
// serves OTLP/HTTP at exactly the address otlp-endpoint names.
func TestKubernetesTracing(t *testing.T) {
	m := loadManifests(t)
	cfg, ok := m.get("ConfigMap", "shortify-env")
	if !ok {
		t.Fatal("no ConfigMap shortify-env")
	}
	if v := str(at(map[string]any(cfg), "data", "tracing")); v != "off" {
		t.Errorf("shortify-env's tracing is %q by default, want off", v)
	}
	endpoint, err := url.Parse(str(at(map[string]any(cfg), "data", "otlp-endpoint")))
	if err != nil || endpoint.Scheme != "http" {
		t.Fatalf("shortify-env's otlp-endpoint %v: %v", endpoint, err)
	}
	containers := 0
	for _, w := range m.workloads() {
		role := str(w.labels["app.kubernetes.io/component"])
		for _, c := range w.containers() {
			env := map[string]map[string]any{}
			envs, _ := c["env"].([]any)
			for _, e := range envs {
				e := e.(map[string]any)
				env[str(e["name"])] = e
			}
			if _, ok := env["SHORTIFY_TRACING"]; !ok && !strings.HasPrefix(str(c["image"]), "shortify") {
				continue // not a Shortify container
			}
			containers++
			where := w.kind + "/" + w.name + " " + str(c["name"])
			for name, key := range map[string]string{"SHORTIFY_TRACING": "tracing", "OTEL_EXPORTER_OTLP_ENDPOINT": "otlp-endpoint"} {
				ref, _ := at(env[name], "valueFrom", "configMapKeyRef").(map[string]any)
				if str(ref["name"]) != "shortify-env" || str(ref["key"]) != key {
					t.Errorf("%s: %s is %v; want shortify-env's %s", where, name, env[name], key)
				}
			}
			if v := str(at(env["OTEL_SERVICE_NAME"], "value")); v != "shortify-"+role {
				t.Errorf("%s: OTEL_SERVICE_NAME %q, want shortify-%s", where, v, role)
			}
		}
	}
	if containers < 4 {
		t.Errorf("%d Shortify containers take the tracing settings; want every role's", containers)
	}

	// The collector's kustomization, applied on its own.
	dir := filepath.Join(k8sDir, "tracing")
	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(k8sDir, "kustomization.yaml"), &kust)
	for _, r := range kust.Resources {
		if strings.Contains(r, "tracing") {
			t.Errorf("the main kustomization includes %s: the collector would run by default", r)
		}
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kust)
	objs := map[string]map[string]any{}
	for _, res := range kust.Resources {
		dec := yaml.NewDecoder(strings.NewReader(readFile(t, filepath.Join(dir, res))))
		for {
			var o map[string]any
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			objs[str(o["kind"])+"/"+str(at(o, "metadata", "name"))] = o
		}
	}
	host, port := endpoint.Hostname(), endpoint.Port()
	svcName, ns, _ := strings.Cut(strings.TrimSuffix(host, ".svc"), ".")
	if ns != kust.Namespace {
		t.Errorf("otlp-endpoint's host %s is not in the collector's namespace %s", host, kust.Namespace)
	}
	if _, ok := objs["Namespace/"+ns]; !ok {
		t.Errorf("the collector's kustomization makes no Namespace %s", ns)
	}
	svc, ok := objs["Service/"+svcName]
	if !ok {
		t.Fatalf("the collector's kustomization has no Service %s (otlp-endpoint's host %s)", svcName, host)
	}
	var target string
	ports, _ := at(svc, "spec", "ports").([]any)
	for _, p := range ports {
		if str(at(p, "port")) == port {
			target = str(at(p, "targetPort"))
		}
	}
	sel, _ := at(svc, "spec", "selector").(map[string]any)
	var served bool
	for key, o := range objs {
		if !strings.HasPrefix(key, "Deployment/") {
			continue
		}
		labels, _ := at(o, "spec", "template", "metadata", "labels").(map[string]any)
		pod, _ := at(o, "spec", "template", "spec").(map[string]any)
		w := workload{pod: pod}
		served = served || matches(sel, labels) && target != "" && w.ports()[target] && w.ports()["4318"]
	}
	if !served {
		t.Errorf("Service %s's port %s (target %q) reaches no container's OTLP/HTTP port 4318", svcName, port, target)
	}
	if _, err := exec.LookPath("kubectl"); err == nil {
		if out, err := exec.Command("kubectl", "kustomize", dir).CombinedOutput(); err != nil {
			t.Errorf("kubectl kustomize %s: %v\n%s", dir, err, out)
		}
	}
}
