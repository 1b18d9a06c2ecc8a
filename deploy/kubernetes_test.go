package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const k8sDir = "kubernetes"

// object is one Kubernetes manifest, as generic YAML.
type object map[string]any

func (o object) kind() string { return str(o["kind"]) }
func (o object) name() string { return str(at(map[string]any(o), "metadata", "name")) }

// manifests holds every object of deploy/kubernetes by kind and name.
type manifests struct {
	namespace string
	byKind    map[string]map[string]object
}

func (m manifests) get(kind, name string) (object, bool) {
	o, ok := m.byKind[kind][name]
	return o, ok
}

// loadManifests reads every file kustomization.yaml lists and checks
// that it lists every YAML file in the directory.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(k8sDir, "kustomization.yaml"), &kust)
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml", base)
		}
	}
	m := manifests{namespace: kust.Namespace, byKind: map[string]map[string]object{}}
	for _, res := range kust.Resources {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(readFile(t, filepath.Join(k8sDir, res)))))
		for {
			// Into a plain map: yaml.v3 would decode nested mappings into
			// the named type too.
			var raw map[string]any
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			if raw == nil {
				continue
			}
			o := object(raw)
			if o.kind() == "" || o.name() == "" || str(o["apiVersion"]) == "" {
				t.Errorf("%s: an object without apiVersion, kind or name: %v", res, o)
				continue
			}
			if ns := str(at(map[string]any(o), "metadata", "namespace")); ns != "" && ns != kust.Namespace && o.kind() != "Namespace" {
				t.Errorf("%s: %s/%s is in namespace %q, the kustomization's is %q", res, o.kind(), o.name(), ns, kust.Namespace)
			}
			if m.byKind[o.kind()] == nil {
				m.byKind[o.kind()] = map[string]object{}
			}
			if _, dup := m.byKind[o.kind()][o.name()]; dup {
				t.Errorf("%s: %s/%s defined twice", res, o.kind(), o.name())
			}
			m.byKind[o.kind()][o.name()] = o
		}
	}
	if _, ok := m.get("Namespace", kust.Namespace); !ok {
		t.Errorf("no Namespace %q", kust.Namespace)
	}
	return m
}

// workload is a Deployment or StatefulSet with its pod template.
type workload struct {
	kind, name string
	replicas   int
	labels     map[string]any // the pod template's
	pod        map[string]any // the pod spec
	obj        object
}

func (m manifests) workloads() []workload {
	var out []workload
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		for _, name := range sortedKeys(m.byKind[kind]) {
			o := m.byKind[kind][name]
			labels, _ := at(map[string]any(o), "spec", "template", "metadata", "labels").(map[string]any)
			pod, _ := at(map[string]any(o), "spec", "template", "spec").(map[string]any)
			replicas, _ := at(map[string]any(o), "spec", "replicas").(int)
			out = append(out, workload{kind, name, replicas, labels, pod, o})
		}
	}
	return out
}

// containers returns the workload's containers.
func (w workload) containers() []map[string]any {
	var out []map[string]any
	cs, _ := w.pod["containers"].([]any)
	for _, c := range cs {
		out = append(out, c.(map[string]any))
	}
	return out
}

// ports returns the container ports by name and by number.
func (w workload) ports() map[string]bool {
	out := map[string]bool{}
	for _, c := range w.containers() {
		ps, _ := c["ports"].([]any)
		for _, p := range ps {
			out[str(at(p, "name"))] = true
			out[str(at(p, "containerPort"))] = true
		}
	}
	delete(out, "")
	return out
}

// matches tells whether selector (matchLabels, or a Service's selector)
// selects the pod labels.
func matches(selector map[string]any, labels map[string]any) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesReferences checks every reference between the manifests:
// workload selectors and pod labels, the keys of ConfigMaps and Secrets
// that env, envFrom and volumes use, volume mounts, probe ports, the
// images' role Caddyfile mount, Services' selectors and target ports, the
// StatefulSet's headless Service and volume claims, the PDB and the HPA.
func TestKubernetesReferences(t *testing.T) {
	m := loadManifests(t)
	for _, w := range m.workloads() {
		where := w.kind + "/" + w.name
		sel, _ := at(map[string]any(w.obj), "spec", "selector", "matchLabels").(map[string]any)
		if !matches(sel, w.labels) {
			t.Errorf("%s: selector %v does not select its pods %v", where, sel, w.labels)
		}
		for _, other := range m.workloads() {
			if other.name != w.name && matches(sel, other.labels) {
				t.Errorf("%s: selector %v also selects %s's pods", where, sel, other.name)
			}
		}
		checkPodSpec(t, m, w)
	}
	checkServices(t, m)
	checkStatefulSet(t, m)
	checkAutoscaler(t, m)
}

// checkPodSpec checks a workload's volumes, mounts, env and probes.
func checkPodSpec(t *testing.T, m manifests, w workload) {
	t.Helper()
	where := w.kind + "/" + w.name
	vols := map[string]bool{}
	vs, _ := w.pod["volumes"].([]any)
	for _, v := range vs {
		vm := v.(map[string]any)
		vols[str(vm["name"])] = true
		checkVolumeSource(t, m, where, vm)
		srcs, _ := at(vm, "projected", "sources").([]any)
		for _, s := range srcs {
			checkVolumeSource(t, m, where, s.(map[string]any))
		}
	}
	claims, _ := at(map[string]any(w.obj), "spec", "volumeClaimTemplates").([]any)
	for _, c := range claims {
		vols[str(at(c, "metadata", "name"))] = true
	}
	ports := w.ports()
	for _, c := range w.containers() {
		cwhere := where + " container " + str(c["name"])
		mounts := map[string]bool{}
		ms, _ := c["volumeMounts"].([]any)
		for _, mt := range ms {
			name := str(at(mt, "name"))
			if !vols[name] {
				t.Errorf("%s mounts volume %q, which the pod does not have", cwhere, name)
			}
			mounts[str(at(mt, "mountPath"))] = true
		}
		if !mounts[roleMount] || !mounts["/data"] {
			t.Errorf("%s: want mounts at %s (role Caddyfile) and /data (writable, the image's WORKDIR)", cwhere, roleMount)
		}
		if !slices.Equal(strs(c["args"]), []string{"run", "--config", roleMount + "/Caddyfile", "--adapter", "caddyfile"}) {
			t.Errorf("%s: args %v do not run the role Caddyfile", cwhere, c["args"])
		}
		envs, _ := c["env"].([]any)
		for _, e := range envs {
			if ref := at(e, "valueFrom", "secretKeyRef"); ref != nil {
				checkKey(t, m, cwhere, "Secret", str(at(ref, "name")), str(at(ref, "key")))
			}
			if ref := at(e, "valueFrom", "configMapKeyRef"); ref != nil {
				checkKey(t, m, cwhere, "ConfigMap", str(at(ref, "name")), str(at(ref, "key")))
			}
		}
		efs, _ := c["envFrom"].([]any)
		for _, ef := range efs {
			for kind, field := range map[string]string{"Secret": "secretRef", "ConfigMap": "configMapRef"} {
				if ref := at(ef, field); ref != nil {
					if _, ok := m.get(kind, str(at(ref, "name"))); !ok {
						t.Errorf("%s: envFrom %s %q does not exist", cwhere, kind, str(at(ref, "name")))
					}
				}
			}
		}
		probes := 0
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			p := at(c, probe, "httpGet")
			if p == nil {
				continue
			}
			probes++
			if port := str(at(p, "port")); !ports[port] {
				t.Errorf("%s: %s on port %q, which no container has", cwhere, probe, port)
			}
		}
		if at(c, "livenessProbe") == nil || at(c, "readinessProbe") == nil || probes < 2 {
			t.Errorf("%s: want HTTP liveness and readiness probes", cwhere)
		}
	}
}

// checkVolumeSource checks a configMap or secret volume (or projected
// source) names an object that has every item's key.
func checkVolumeSource(t *testing.T, m manifests, where string, v map[string]any) {
	t.Helper()
	for kind, field := range map[string]string{"ConfigMap": "configMap", "Secret": "secret"} {
		src, ok := v[field].(map[string]any)
		if !ok {
			continue
		}
		name := str(src["name"])
		if kind == "Secret" {
			name = cmpOr(str(src["secretName"]), name)
		}
		items, _ := src["items"].([]any)
		if len(items) == 0 {
			if _, ok := m.get(kind, name); !ok {
				t.Errorf("%s: volume from %s %q, which does not exist", where, kind, name)
			}
		}
		for _, it := range items {
			checkKey(t, m, where, kind, name, str(at(it, "key")))
		}
	}
}

// checkKey checks that the ConfigMap or Secret name exists with key.
func checkKey(t *testing.T, m manifests, where, kind, name, key string) {
	t.Helper()
	o, ok := m.get(kind, name)
	if !ok {
		t.Errorf("%s: %s %q does not exist", where, kind, name)
		return
	}
	for _, field := range []string{"data", "stringData"} {
		if _, ok := at(map[string]any(o), field, key).(string); ok {
			return
		}
	}
	t.Errorf("%s: %s %q has no key %q", where, kind, name, key)
}

// checkServices checks that every Service selects the pods of exactly one
// workload (a per-pod Service: one pod of the StatefulSet that exists)
// and that its target ports are ports of those pods.
func checkServices(t *testing.T, m manifests) {
	t.Helper()
	for _, name := range sortedKeys(m.byKind["Service"]) {
		svc := m.byKind["Service"][name]
		sel, _ := at(map[string]any(svc), "spec", "selector").(map[string]any)
		podSel := map[string]any{}
		podName := ""
		for k, v := range sel {
			if k == "statefulset.kubernetes.io/pod-name" {
				podName = str(v)
				continue
			}
			podSel[k] = v
		}
		var targets []workload
		for _, w := range m.workloads() {
			if !matches(podSel, w.labels) {
				continue
			}
			if podName != "" {
				i, err := strconv.Atoi(strings.TrimPrefix(podName, w.name+"-"))
				if w.kind != "StatefulSet" || err != nil || i < 0 || i >= w.replicas {
					t.Errorf("Service %s selects pod %s, which %s/%s does not have", name, podName, w.kind, w.name)
				}
			}
			targets = append(targets, w)
		}
		if len(targets) != 1 {
			t.Errorf("Service %s selects the pods of %d workloads, want 1", name, len(targets))
			continue
		}
		ports, _ := at(map[string]any(svc), "spec", "ports").([]any)
		if len(ports) == 0 {
			t.Errorf("Service %s has no ports", name)
		}
		for _, p := range ports {
			if tp := str(at(p, "targetPort")); !targets[0].ports()[tp] {
				t.Errorf("Service %s: targetPort %q is no port of %s", name, tp, targets[0].name)
			}
		}
	}
}

// checkStatefulSet checks the control plane: its headless Service with
// not-ready addresses published, volume claims, a per-pod Service and a
// cluster snippet for each ordinal, and a PodDisruptionBudget that keeps
// a quorum.
func checkStatefulSet(t *testing.T, m manifests) {
	t.Helper()
	sets := m.byKind["StatefulSet"]
	if len(sets) != 1 {
		t.Fatalf("want one StatefulSet (the control plane), got %d", len(sets))
	}
	var w workload
	for _, x := range m.workloads() {
		if x.kind == "StatefulSet" {
			w = x
		}
	}
	spec := at(map[string]any(w.obj), "spec")
	if w.replicas != 3 && w.replicas != 5 {
		t.Errorf("StatefulSet %s: %d replicas; Raft wants 3 or 5", w.name, w.replicas)
	}
	headless, ok := m.get("Service", str(at(spec, "serviceName")))
	switch {
	case !ok:
		t.Errorf("StatefulSet %s: serviceName %q is no Service", w.name, str(at(spec, "serviceName")))
	case str(at(map[string]any(headless), "spec", "clusterIP")) != "None" ||
		at(map[string]any(headless), "spec", "publishNotReadyAddresses") != true:
		t.Errorf("Service %s must be headless and publish not-ready addresses", headless.name())
	}
	if at(spec, "podManagementPolicy") != "Parallel" {
		t.Errorf("StatefulSet %s: podManagementPolicy must be Parallel: after a full stop no pod is ready before a quorum runs", w.name)
	}
	if claims, _ := at(spec, "volumeClaimTemplates").([]any); len(claims) == 0 {
		t.Errorf("StatefulSet %s has no volume claims", w.name)
	}
	quorum := w.replicas/2 + 1
	pdbs := 0
	for _, pdb := range m.byKind["PodDisruptionBudget"] {
		sel, _ := at(map[string]any(pdb), "spec", "selector", "matchLabels").(map[string]any)
		if !matches(sel, w.labels) {
			continue
		}
		pdbs++
		if got := at(map[string]any(pdb), "spec", "minAvailable"); got != quorum {
			t.Errorf("PodDisruptionBudget %s: minAvailable %v, want the quorum %d", pdb.name(), got, quorum)
		}
	}
	if pdbs != 1 {
		t.Errorf("%d PodDisruptionBudgets select the control plane, want 1", pdbs)
	}
	for i := range w.replicas {
		pod := fmt.Sprintf("%s-%d", w.name, i)
		if _, ok := m.get("Service", pod); !ok {
			t.Errorf("no per-pod Service %s (the node's stable Raft and API address)", pod)
		}
	}
	checkClusterSnippets(t, m, w)
}

// joinURL matches a join target: a per-pod Service's internal listener.
var joinURL = regexp.MustCompile(`^https://([a-z0-9-]+)\.([a-z0-9-]+)\.svc:8301$`)

// checkClusterSnippets checks the cluster/<pod>.caddy files the control
// plane imports: one per ordinal, exactly one bootstrapping, the others
// joining through other pods' Services.
func checkClusterSnippets(t *testing.T, m manifests, w workload) {
	t.Helper()
	items := map[string]string{} // path in the role volume -> ConfigMap key
	vs, _ := w.pod["volumes"].([]any)
	var cmName string
	for _, v := range vs {
		srcs, _ := at(v, "projected", "sources").([]any)
		for _, s := range srcs {
			its, _ := at(s, "configMap", "items").([]any)
			for _, it := range its {
				if p := str(at(it, "path")); strings.HasPrefix(p, "cluster/") {
					items[p] = str(at(it, "key"))
					cmName = str(at(s, "configMap", "name"))
				}
			}
		}
	}
	cm, ok := m.get("ConfigMap", cmName)
	if !ok {
		t.Fatalf("StatefulSet %s mounts no cluster snippets", w.name)
	}
	bootstraps := 0
	for i := range w.replicas {
		pod := fmt.Sprintf("%s-%d", w.name, i)
		key, ok := items["cluster/"+pod+".caddy"]
		if !ok {
			t.Errorf("no cluster/%s.caddy in the role volume", pod)
			continue
		}
		text := str(at(map[string]any(cm), "data", key))
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 0 || strings.HasPrefix(f[0], "#"):
			case slices.Equal(f, []string{"bootstrap", "true"}):
				bootstraps++
			case f[0] == "join" && len(f) > 1:
				for _, u := range f[1:] {
					sub := joinURL.FindStringSubmatch(u)
					if sub == nil || sub[1] == pod || sub[2] != m.namespace {
						t.Errorf("%s joins through %s: want another node's Service in namespace %s", pod, u, m.namespace)
					} else if _, ok := m.get("Service", sub[1]); !ok {
						t.Errorf("%s joins through %s: no Service %s", pod, u, sub[1])
					}
				}
			default:
				t.Errorf("%s: unexpected line %q in its cluster snippet", pod, line)
			}
		}
	}
	if bootstraps != 1 {
		t.Errorf("%d control-plane pods bootstrap; want exactly 1", bootstraps)
	}
}

// checkAutoscaler checks the edges' HPA: an existing Deployment that
// requests CPU, 5 to 50 replicas on 70% CPU.
func checkAutoscaler(t *testing.T, m manifests) {
	t.Helper()
	if len(m.byKind["HorizontalPodAutoscaler"]) != 1 {
		t.Fatalf("want one HorizontalPodAutoscaler, got %d", len(m.byKind["HorizontalPodAutoscaler"]))
	}
	for name, hpa := range m.byKind["HorizontalPodAutoscaler"] {
		spec := at(map[string]any(hpa), "spec")
		ref := at(spec, "scaleTargetRef")
		target, ok := m.get(str(at(ref, "kind")), str(at(ref, "name")))
		if !ok || str(at(ref, "kind")) != "Deployment" {
			t.Errorf("HPA %s targets %v, which is no Deployment here", name, ref)
			continue
		}
		if target.name() != "shortify-edge" {
			t.Errorf("HPA %s scales %s, want the edges", name, target.name())
		}
		cs, _ := at(map[string]any(target), "spec", "template", "spec", "containers").([]any)
		for _, c := range cs {
			if at(c, "resources", "requests", "cpu") == nil {
				t.Errorf("HPA %s: container %s requests no CPU, so CPU utilisation is undefined", name, str(at(c, "name")))
			}
		}
		metric := at(spec, "metrics", 0, "resource")
		if at(spec, "minReplicas") != 5 || at(spec, "maxReplicas") != 50 ||
			str(at(metric, "name")) != "cpu" || at(metric, "target", "averageUtilization") != 70 {
			t.Errorf("HPA %s: want 5 to 50 replicas on 70%% CPU, got %v", name, spec)
		}
	}
}
