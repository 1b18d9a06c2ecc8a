package deploy_test

import (
	"slices"
	"strings"
	"testing"
)

// Cluster ports of the control plane: Raft and the internal listener.
var clusterPorts = []string{"8300", "8301"}

// TestKubernetesClusterTrust checks the control plane's cluster trust
// (issue 12): its nodes read cluster TLS from a Secret mounted read-only,
// no cluster secret is left, the Raft and internal ports are on no
// Service but the StatefulSet's own (headless and per-pod), and a
// NetworkPolicy lets only control-plane pods reach them.
func TestKubernetesClusterTrust(t *testing.T) {
	m := loadManifests(t)
	var cp workload
	for _, w := range m.workloads() {
		if w.kind == "StatefulSet" {
			cp = w
		}
	}
	if cp.name == "" {
		t.Fatal("no control-plane StatefulSet")
	}
	if sec, ok := m.get("Secret", "shortify-secrets"); ok {
		if at(map[string]any(sec), "stringData", "cluster-secret") != nil {
			t.Error("secrets.yaml still has cluster-secret")
		}
	}

	// Cluster TLS from a Secret volume, mounted read-only.
	secretMounts := map[string]bool{}
	vs, _ := cp.pod["volumes"].([]any)
	for _, c := range cp.containers() {
		ms, _ := c["volumeMounts"].([]any)
		for _, mt := range ms {
			for _, v := range vs {
				if str(at(v, "name")) == str(at(mt, "name")) && at(v, "secret") != nil && at(mt, "readOnly") == true {
					secretMounts[str(at(mt, "mountPath"))] = true
				}
			}
		}
		env := map[string]string{}
		es, _ := c["env"].([]any)
		for _, e := range es {
			env[str(at(e, "name"))] = str(at(e, "value"))
		}
		if _, ok := env["SHORTIFY_CLUSTER_SECRET"]; ok {
			t.Error("the control plane still gets SHORTIFY_CLUSTER_SECRET")
		}
		for _, k := range []string{"SHORTIFY_CLUSTER_CA", "SHORTIFY_CLUSTER_CERT", "SHORTIFY_CLUSTER_KEY"} {
			dir, _, _ := strings.Cut(strings.TrimPrefix(env[k], "/"), "/cluster-tls/")
			if !secretMounts["/"+dir+"/cluster-tls"] {
				t.Errorf("%s=%q is not a file of a read-only Secret mount", k, env[k])
			}
		}
		if !strings.HasPrefix(env["SHORTIFY_API_ADDR"], "https://") || !strings.HasSuffix(env["SHORTIFY_API_ADDR"], ":8301") {
			t.Errorf("SHORTIFY_API_ADDR %q is not the https internal listener on 8301", env["SHORTIFY_API_ADDR"])
		}
	}

	// The cluster ports only on the StatefulSet's own Services.
	own := map[string]bool{str(at(map[string]any(cp.obj), "spec", "serviceName")): true}
	for i := range cp.replicas {
		own[cp.name+"-"+string(rune('0'+i))] = true
	}
	for name, svc := range m.byKind["Service"] {
		ports, _ := at(map[string]any(svc), "spec", "ports").([]any)
		for _, p := range ports {
			if slices.Contains(clusterPorts, str(at(p, "port"))) && !own[name] {
				t.Errorf("Service %s exposes cluster port %s: only the control plane's own Services may", name, str(at(p, "port")))
			}
		}
	}

	// A NetworkPolicy on the control-plane pods: every rule that opens a
	// cluster port admits control-plane pods only, and both ports are open
	// to them.
	opened := map[string]bool{}
	policies := 0
	for name, np := range m.byKind["NetworkPolicy"] {
		sel, _ := at(map[string]any(np), "spec", "podSelector", "matchLabels").(map[string]any)
		if !matches(sel, cp.labels) {
			continue
		}
		policies++
		rules, _ := at(map[string]any(np), "spec", "ingress").([]any)
		for _, r := range rules {
			ports, _ := at(r, "ports").([]any)
			var cluster []string
			for _, p := range ports {
				if port := str(at(p, "port")); slices.Contains(clusterPorts, port) {
					cluster = append(cluster, port)
				}
			}
			if len(ports) == 0 {
				t.Errorf("NetworkPolicy %s: a rule without ports opens every port, cluster ports included", name)
				continue
			}
			if len(cluster) == 0 {
				continue
			}
			froms, _ := at(r, "from").([]any)
			if len(froms) == 0 {
				t.Errorf("NetworkPolicy %s opens %v to everyone", name, cluster)
			}
			for _, f := range froms {
				fsel, _ := at(f, "podSelector", "matchLabels").(map[string]any)
				if fsel == nil || at(f, "namespaceSelector") != nil || at(f, "ipBlock") != nil || !matches(fsel, cp.labels) {
					t.Errorf("NetworkPolicy %s opens %v to %v, not only to control-plane pods", name, cluster, f)
				}
				for _, other := range m.workloads() {
					if other.name != cp.name && fsel != nil && matches(fsel, other.labels) {
						t.Errorf("NetworkPolicy %s opens %v to %s", name, cluster, other.name)
					}
				}
			}
			for _, p := range cluster {
				opened[p] = true
			}
		}
	}
	if policies == 0 {
		t.Fatal("no NetworkPolicy selects the control-plane pods")
	}
	for _, p := range clusterPorts {
		if !opened[p] {
			t.Errorf("no NetworkPolicy rule lets control-plane pods reach port %s", p)
		}
	}
}
