package deploy_test

import (
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Shortify services of compose.yaml, as their role Caddyfiles run
// there: what the services say about each other.

// TestComposeShortify adapts each Shortify service's role Caddyfile with
// the environment and files compose gives it, and checks what the
// services say about each other: node IDs, join and advertise addresses,
// the front door's upstreams, the engines the DSNs name.
func TestComposeShortify(t *testing.T) {
	f := loadCompose(t)
	byRole := map[string][]string{}
	configs := map[string]adapted{}
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		role := s.role()
		if role == "" {
			continue
		}
		if !slices.Equal(s.Command, []string{"run", "--config", roleMount + "/Caddyfile", "--adapter", "caddyfile"}) {
			t.Errorf("%s: command %v does not run its role Caddyfile", name, s.Command)
		}
		byRole[role] = append(byRole[role], name)
		_, binds := s.mounts()
		extra := map[string]string{}
		if dir, ok := binds[roleMount+"/cluster"]; ok {
			for _, e := range readDir(t, filepath.Join(composeDir, dir)) {
				extra["cluster/"+e] = filepath.Join(composeDir, dir, e)
			}
		}
		path := filepath.Join(composeDir, binds[roleMount+"/Caddyfile"])
		cfg := adaptRole(t, name, path, s.Environment, extra)
		if cfg == nil {
			continue
		}
		checkOpsServer(t, name, cfg)
		checkHardened(t, name, cfg)
		checkSafeDefaults(t, name, role, cfg)
		configs[name] = cfg
		checkEngineHosts(t, f, name, s.Environment)
	}
	for _, role := range []string{"controlplane", "edge", "stats", "frontdoor"} {
		if len(byRole[role]) == 0 {
			t.Errorf("no service runs the %s role", role)
		}
	}
	if n := len(byRole["controlplane"]); n != 3 {
		t.Errorf("want 3 control-plane nodes, got %d", n)
	}
	if n := len(byRole["edge"]); n != 2 {
		t.Errorf("want 2 edges, got %d", n)
	}
	if n := len(byRole["stats"]); n != 2 {
		t.Errorf("want 2 stats instances, got %d", n)
	}
	checkControlPlane(t, byRole["controlplane"], configs)
	checkComposeClusterTLS(t, f, byRole["controlplane"])
	for _, fd := range byRole["frontdoor"] {
		checkFrontDoor(t, fd, configs[fd], byRole)
	}
	for _, e := range byRole["edge"] {
		if cfg, ok := configs[e]; ok {
			h := findHandler(cfg, "public", "shortify_edge")
			if h == nil || h["database"] != "{env.SHORTIFY_DATABASE_URL}" || len(at(h, "read_replicas").([]any)) != 2 {
				t.Errorf("%s: the shortify_edge handler does not read the database from the environment and both replicas: %v", e, h)
			}
		}
	}
}

// checkEngineHosts checks that the hosts the DSNs and broker lists in env
// name are services.
func checkEngineHosts(t *testing.T, f composeFile, name string, env map[string]string) {
	t.Helper()
	var hosts []string
	for _, k := range []string{"SHORTIFY_DATABASE_URL", "SHORTIFY_STATS_DATABASE_URL"} {
		if u, err := url.Parse(env[k]); err == nil && u.Host != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	for _, dsn := range strings.Fields(env["SHORTIFY_READ_REPLICAS"]) {
		if u, err := url.Parse(dsn); err == nil {
			hosts = append(hosts, u.Hostname())
		}
	}
	hosts = append(hosts, hostsOf(strings.Split(env["SHORTIFY_REDIS"], ","))...)
	hosts = append(hosts, hostsOf(strings.Fields(env["SHORTIFY_KAFKA_BROKERS"]))...)
	for _, h := range hosts {
		if _, ok := f.Services[h]; !ok {
			t.Errorf("%s: its environment names host %q, which is no service", name, h)
		}
	}
}

// checkControlPlane checks that exactly one node bootstraps, that the
// others join through the other nodes' APIs, and that every node's IDs
// and addresses are its own.
func checkControlPlane(t *testing.T, nodes []string, configs map[string]adapted) {
	t.Helper()
	bootstraps := 0
	for _, n := range nodes {
		app, _ := at(map[string]any(configs[n]), "apps", "shortify").(map[string]any)
		if app == nil {
			t.Errorf("%s: no shortify app", n)
			continue
		}
		if app["node_id"] != n || app["api_addr"] != "https://"+n+":8301" || app["raft_advertise"] != n+":8300" {
			t.Errorf("%s: node_id %v, api_addr %v, raft_advertise %v: not its own", n, app["node_id"], app["api_addr"], app["raft_advertise"])
		}
		if app["bootstrap"] == true {
			bootstraps++
			if app["join"] != nil {
				t.Errorf("%s both bootstraps and joins", n)
			}
			continue
		}
		joins, _ := app["join"].([]any)
		if len(joins) == 0 {
			t.Errorf("%s neither bootstraps nor joins", n)
		}
		for _, j := range joins {
			u, err := url.Parse(j.(string))
			if err != nil || !slices.Contains(nodes, u.Hostname()) || u.Hostname() == n || u.Scheme != "https" || u.Port() != "8301" {
				t.Errorf("%s joins through %v, which is not another node's internal listener", n, j)
			}
		}
		if app["cluster_secret"] != nil {
			t.Errorf("%s still sets cluster_secret", n)
		}
		for _, k := range []string{"cluster_ca", "cluster_cert", "cluster_key"} {
			if want := "{env.SHORTIFY_" + strings.ToUpper(k) + "}"; app[k] != want {
				t.Errorf("%s: %s %v, want %s", n, k, app[k], want)
			}
		}
		if app["cluster_listen"] != "0.0.0.0:8301" {
			t.Errorf("%s: cluster_listen %v, want 0.0.0.0:8301", n, app["cluster_listen"])
		}
	}
	if bootstraps != 1 {
		t.Errorf("%d control-plane nodes bootstrap; want exactly 1", bootstraps)
	}
}

// checkComposeClusterTLS checks the control plane's cluster TLS: every
// node reads its CA, certificate and key from a read-only volume that the
// cluster-cert job fills and it waits for; no node mounts the volume with
// the CA's key; the certificate covers every node's name; nothing sets a
// cluster secret any more.
func checkComposeClusterTLS(t *testing.T, f composeFile, nodes []string) {
	t.Helper()
	certJob, ok := f.Services["cluster-cert"]
	if !ok {
		t.Fatal("no cluster-cert job makes the control plane's certificates")
	}
	if f.Services["cluster-ca"].Restart != "no" || certJob.Restart != "no" {
		t.Error("the cluster-ca and cluster-cert jobs must not restart")
	}
	if i := slices.Index(certJob.Command, "--host"); i < 0 || i+1 >= len(certJob.Command) ||
		!slices.Equal(strings.Split(certJob.Command[i+1], ","), nodes) {
		t.Errorf("cluster-cert %v: want --host listing %v", certJob.Command, nodes)
	}
	jobNamed, _ := certJob.mounts()
	caVolume, tlsVolume := jobNamed["/config"], jobNamed["/data"]
	for name, s := range f.Services {
		if _, ok := s.Environment["SHORTIFY_CLUSTER_SECRET"]; ok {
			t.Errorf("%s: SHORTIFY_CLUSTER_SECRET is set; cluster TLS replaced it", name)
		}
		named, _ := s.mounts()
		for dst, src := range named {
			if src == caVolume && name != "cluster-ca" && name != "cluster-cert" {
				t.Errorf("%s mounts the CA key's volume %s at %s", name, src, dst)
			}
		}
	}
	for _, n := range nodes {
		s := f.Services[n]
		if s.DependsOn["cluster-cert"].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for cluster-cert", n)
		}
		var mount string
		for _, v := range s.Volumes {
			if parts := strings.Split(v, ":"); parts[0] == tlsVolume {
				mount = parts[1]
				if len(parts) < 3 || parts[2] != "ro" {
					t.Errorf("%s mounts %s writable", n, v)
				}
			}
		}
		if mount == "" {
			t.Errorf("%s does not mount the cluster-tls volume %s", n, tlsVolume)
			continue
		}
		for _, k := range []string{"SHORTIFY_CLUSTER_CA", "SHORTIFY_CLUSTER_CERT", "SHORTIFY_CLUSTER_KEY"} {
			if v := s.Environment[k]; !strings.HasPrefix(v, mount+"/") {
				t.Errorf("%s: %s=%q is not a file of the cluster-tls mount %s", n, k, v, mount)
			}
		}
	}
}

// checkFrontDoor checks that the front door proxies redirects to every
// edge and the APIs to every control-plane node, with active health
// checks.
func checkFrontDoor(t *testing.T, name string, cfg adapted, byRole map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	for _, h := range handlers(cfg)["public"] {
		if h["handler"] != "reverse_proxy" {
			continue
		}
		if at(h, "health_checks", "active", "uri") == nil {
			t.Errorf("%s: a reverse_proxy without active health checks", name)
		}
		var hosts []string
		ups, _ := h["upstreams"].([]any)
		for _, u := range ups {
			host, port, _ := net.SplitHostPort(at(u, "dial").(string))
			if port != "8080" {
				t.Errorf("%s: upstream %v is not on port 8080", name, u)
			}
			hosts = append(hosts, host)
		}
		slices.Sort(hosts)
		for role, members := range byRole {
			if slices.Equal(hosts, sorted(members)) {
				got[role] = hosts
			}
		}
	}
	for _, role := range []string{"edge", "controlplane"} {
		if got[role] == nil {
			t.Errorf("%s: no reverse_proxy to exactly the %s services %v", name, role, byRole[role])
		}
	}
}
