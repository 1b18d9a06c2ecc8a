package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKubernetesCaddyfiles checks that the ConfigMap's Caddyfiles are the
// role Caddyfiles of deploy/caddyfiles, and adapts each workload's with
// the environment its pods get (for the StatefulSet, every pod's).
func TestKubernetesCaddyfiles(t *testing.T) {
	m := loadManifests(t)
	roles := map[string]bool{}
	for _, w := range m.workloads() {
		role, env, extra := k8sRole(t, m, w)
		if role == "" {
			continue
		}
		roles[role] = true
		pods := []string{w.name + "-0"}
		if w.kind == "StatefulSet" {
			pods = pods[:0]
			for i := range w.replicas {
				pods = append(pods, fmt.Sprintf("%s-%d", w.name, i))
			}
		}
		for _, pod := range pods {
			podEnv := resolveEnv(t, m, w, pod, env)
			cfg := adaptRole(t, pod, filepath.Join("caddyfiles", role+".Caddyfile"), podEnv, extra)
			if cfg == nil {
				continue
			}
			checkOpsServer(t, pod, cfg)
			checkHardened(t, pod, cfg)
			checkSafeDefaults(t, pod, role, cfg)
			checkUpstreams(t, m, pod, cfg)
			if app, ok := at(map[string]any(cfg), "apps", "shortify").(map[string]any); ok {
				if app["node_id"] != pod || app["raft_advertise"] != pod+"."+m.namespace+".svc:8300" {
					t.Errorf("%s: node_id %v, raft_advertise %v", pod, app["node_id"], app["raft_advertise"])
				}
			}
		}
	}
	cm, _ := m.get("ConfigMap", "shortify-caddyfiles")
	data, _ := at(map[string]any(cm), "data").(map[string]any)
	for key, text := range data {
		role := strings.TrimSuffix(key, ".Caddyfile")
		if want := readFile(t, filepath.Join("caddyfiles", key)); text != want {
			t.Errorf("ConfigMap shortify-caddyfiles: %s differs from deploy/caddyfiles/%s: run scripts/sync-kubernetes-caddyfiles.sh", key, key)
		}
		if !roles[role] {
			t.Errorf("ConfigMap shortify-caddyfiles: no workload runs %s", key)
		}
	}
}

// checkUpstreams checks that every reverse_proxy upstream of cfg is a
// Service with the port dialled and the active health checks' port.
func checkUpstreams(t *testing.T, m manifests, pod string, cfg adapted) {
	t.Helper()
	for _, hs := range handlers(cfg) {
		for _, h := range hs {
			if h["handler"] != "reverse_proxy" {
				continue
			}
			ups, _ := h["upstreams"].([]any)
			for _, u := range ups {
				host, port, _ := strings.Cut(str(at(u, "dial")), ":")
				svc, ok := m.get("Service", host)
				if !ok {
					t.Errorf("%s proxies to %s, which is no Service", pod, host)
					continue
				}
				want := []string{port}
				if hp := at(h, "health_checks", "active", "port"); hp != nil {
					want = append(want, str(hp))
				}
				ports, _ := at(map[string]any(svc), "spec", "ports").([]any)
				for _, w := range want {
					if !slices.ContainsFunc(ports, func(p any) bool { return str(at(p, "port")) == w }) {
						t.Errorf("%s proxies to Service %s on port %s (or checks its health there), which the Service lacks", pod, host, w)
					}
				}
			}
		}
	}
}

// k8sRole returns the role Caddyfile a workload mounts, the env entries
// of its container, and the cluster snippets beside the Caddyfile (as
// files written to a temporary directory).
func k8sRole(t *testing.T, m manifests, w workload) (role string, env []any, extra map[string]string) {
	t.Helper()
	extra = map[string]string{}
	dir := t.TempDir()
	vs, _ := w.pod["volumes"].([]any)
	for _, v := range vs {
		srcs := []any{v}
		if p, ok := at(v, "projected", "sources").([]any); ok {
			srcs = p
		}
		for _, s := range srcs {
			cm, _ := m.get("ConfigMap", str(at(s, "configMap", "name")))
			its, _ := at(s, "configMap", "items").([]any)
			for _, it := range its {
				key, path := str(at(it, "key")), str(at(it, "path"))
				if path == "Caddyfile" {
					role = strings.TrimSuffix(key, ".Caddyfile")
					continue
				}
				f := filepath.Join(dir, filepath.FromSlash(path))
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(str(at(map[string]any(cm), "data", key))), 0o644); err != nil {
					t.Fatal(err)
				}
				extra[path] = f
			}
		}
	}
	env, _ = w.containers()[0]["env"].([]any)
	return role, env, extra
}

// envRef matches a $(VAR) reference in an env value.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// resolveEnv computes the environment Kubernetes gives pod: values with
// $(VAR) references expanded, fieldRefs, and Secret and ConfigMap keys.
func resolveEnv(t *testing.T, m manifests, w workload, pod string, env []any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range env {
		name := str(at(e, "name"))
		switch {
		case at(e, "valueFrom", "fieldRef") != nil:
			switch field := str(at(e, "valueFrom", "fieldRef", "fieldPath")); field {
			case "metadata.name":
				out[name] = pod
			case "metadata.namespace":
				out[name] = m.namespace
			default:
				t.Errorf("%s: env %s from unknown field %s", pod, name, field)
			}
		case at(e, "valueFrom", "secretKeyRef") != nil:
			ref := at(e, "valueFrom", "secretKeyRef")
			o, _ := m.get("Secret", str(at(ref, "name")))
			out[name] = str(at(map[string]any(o), "stringData", str(at(ref, "key"))))
		case at(e, "valueFrom", "configMapKeyRef") != nil:
			ref := at(e, "valueFrom", "configMapKeyRef")
			o, _ := m.get("ConfigMap", str(at(ref, "name")))
			out[name] = str(at(map[string]any(o), "data", str(at(ref, "key"))))
		default:
			out[name] = envRef.ReplaceAllStringFunc(str(at(e, "value")), func(ref string) string {
				v, ok := out[envRef.FindStringSubmatch(ref)[1]]
				if !ok {
					t.Errorf("%s/%s: env %s refers to %s, which is not defined before it", w.kind, w.name, name, ref)
				}
				return v
			})
		}
	}
	return out
}

// TestKubectlKustomize builds the kustomization with kubectl where it is
// installed (`kubectl apply --dry-run=client` needs an API server; this
// does not), as a check that kubectl reads every file.
func TestKubectlKustomize(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Logf("kubectl is not installed here; the manifests were checked by the other tests only")
		return
	}
	out, err := exec.Command("kubectl", "kustomize", k8sDir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	if n := bytes.Count(out, []byte("\nkind: ")) + bytes.Count(out[:min(len(out), 6)], []byte("kind: ")); n < 10 {
		t.Errorf("kubectl kustomize rendered %d objects", n)
	}
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func strs(v any) []string {
	var out []string
	s, _ := v.([]any)
	for _, x := range s {
		out = append(out, str(x))
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
