package deploy_test

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// credentialFields are the log fields that would carry a credential: the
// request headers a client or a node authenticates with, and cookies a
// response sets. Every role Caddyfile deletes them from every log.
var credentialFields = []string{
	"request>headers>X-Api-Key",
	"request>headers>Authorization",
	"request>headers>Proxy-Authorization",
	"request>headers>Cookie",
	"request>headers>X-Shortify-Cluster-Secret",
	"resp_headers>Set-Cookie",
}

// Bounds on the servers' timeouts (issue 12, finding 9): a slow client
// is cut off within these.
const (
	maxReadHeader = 10 * time.Second
	maxReadBody   = 30 * time.Second
)

// checkHardened checks an adapted role Caddyfile: every HTTP server cuts
// slow headers and bodies off and closes idle connections, and every log
// filters the credential headers out.
func checkHardened(t *testing.T, where string, cfg adapted) {
	t.Helper()
	servers, _ := at(map[string]any(cfg), "apps", "http", "servers").(map[string]any)
	for name, srv := range servers {
		// HTTP/2 has no header timeout: a plain-HTTP server that took
		// h2c with prior knowledge let a client dribbling a HEADERS
		// frame hold its connection until the idle timeout.
		if at(srv, "tls_connection_policies") == nil {
			if p, _ := at(srv, "protocols").([]any); len(p) != 1 || p[0] != "h1" {
				t.Errorf("%s: server %s serves plain HTTP with protocols %v, want [h1] (protocols h1)", where, name, at(srv, "protocols"))
			}
		}
		for field, limit := range map[string]time.Duration{
			"read_header_timeout": maxReadHeader, "read_timeout": maxReadBody, "idle_timeout": 10 * time.Minute,
		} {
			d, _ := at(srv, field).(float64)
			if d <= 0 || time.Duration(d) > limit {
				t.Errorf("%s: server %s: %s %v, want 0 < it <= %v (timeouts { read_header; read_body; idle })",
					where, name, field, time.Duration(d), limit)
			}
		}
	}
	logs, _ := at(map[string]any(cfg), "logging", "logs").(map[string]any)
	if _, ok := logs["default"]; !ok {
		t.Errorf("%s: the default log is not configured, so it filters nothing (log default { format filter ... })", where)
	}
	for name, l := range logs {
		if at(l, "encoder", "format") != "filter" {
			t.Errorf("%s: log %s is not filtered (format filter)", where, name)
			continue
		}
		for _, f := range credentialFields {
			if at(l, "encoder", "fields", f, "filter") != "delete" {
				t.Errorf("%s: log %s keeps %s (want %s delete)", where, name, f, f)
			}
		}
	}
}

// TestRoleCaddyfilesHardened checks every role Caddyfile as adapted with
// only its defaults; TestComposeShortify and TestKubernetesCaddyfiles
// check them as each deployment runs them too.
func TestRoleCaddyfilesHardened(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("caddyfiles", "*.Caddyfile"))
	if err != nil || len(files) != 4 {
		t.Fatalf("role Caddyfiles %v (%v), want 4", files, err)
	}
	bootstrap := filepath.Join(t.TempDir(), "n1.caddy")
	if err := os.WriteFile(bootstrap, []byte("bootstrap true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if cfg := adaptRole(t, f, f, map[string]string{"SHORTIFY_NODE_ID": "n1"}, map[string]string{"cluster/n1.caddy": bootstrap}); cfg != nil {
			checkHardened(t, f, cfg)
		}
	}
	// The front door as Kubernetes runs it: HTTPS and the redirect server.
	if cfg := adaptRole(t, "frontdoor with TLS", frontDoor, map[string]string{"SHORTIFY_TLS": "files", "SHORTIFY_PORT": "8443"}, nil); cfg != nil {
		checkHardened(t, "frontdoor with TLS", cfg)
	}
}

// dockerfileEnv returns the ENV of xcaddy.Dockerfile's final stage: the
// environment the image runs its default config with.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, filepath.Join(repoRoot, "xcaddy.Dockerfile"))))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 0 && f[0] == "FROM":
			clear(env) // a new stage
		case len(f) > 1 && f[0] == "ENV":
			for _, kv := range f[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("xcaddy.Dockerfile: ENV %q: want KEY=value pairs", kv)
				}
				env[k] = v
			}
		}
	}
	return env
}

// TestImageDefaults reproduces issue 12 (10): the image's default config
// (the repository's Caddyfile, run by xcaddy.Dockerfile's CMD) let anyone
// create links and listened on every interface. Now it needs a key to
// create and listens on 127.0.0.1 until SHORTIFY_BIND says where; `make
// run` (no environment) keeps anonymous create, on 127.0.0.1 too.
func TestImageDefaults(t *testing.T) {
	docker := readFile(t, filepath.Join(repoRoot, "xcaddy.Dockerfile"))
	if !strings.Contains(docker, "COPY Caddyfile /etc/shortify/Caddyfile") ||
		!strings.Contains(docker, `CMD ["run", "--config", "/etc/shortify/Caddyfile", "--adapter", "caddyfile"]`) {
		t.Fatal("xcaddy.Dockerfile no longer runs the repository's Caddyfile by default; this test reads the wrong file")
	}
	root := filepath.Join(repoRoot, "Caddyfile")
	image := dockerfileEnv(t)
	for _, tc := range []struct {
		name      string
		env       map[string]string
		anonymous bool
		bind      string
	}{
		{"image", image, false, "127.0.0.1"},
		{"make run", nil, true, "127.0.0.1"},
		{"image with SHORTIFY_BIND", mergeEnv(image, map[string]string{"SHORTIFY_BIND": "0.0.0.0"}), false, "0.0.0.0"},
	} {
		cfg := adaptRole(t, tc.name, root, tc.env, nil)
		if cfg == nil {
			continue
		}
		checkHardened(t, tc.name, cfg)
		// Absent is off (the field is omitempty).
		if got := at(map[string]any(cfg), "apps", "shortify", "anonymous_create") == true; got != tc.anonymous {
			t.Errorf("%s: anonymous_create %v, want %v", tc.name, got, tc.anonymous)
		}
		servers, _ := at(map[string]any(cfg), "apps", "http", "servers").(map[string]any)
		for name, srv := range servers {
			for _, l := range strs(at(srv, "listen")) {
				if !strings.HasPrefix(l, tc.bind+":") {
					t.Errorf("%s: server %s listens on %s, want %s only", tc.name, name, l, tc.bind)
				}
			}
		}
		for _, app := range []string{"shortify_kafka"} {
			if l := str(at(map[string]any(cfg), "apps", app, "listen")); l != "" && !strings.HasPrefix(l, "127.0.0.1:") {
				t.Errorf("%s: %s listens on %s", tc.name, app, l)
			}
		}
	}
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// TestKubernetesFrontDoorTLS: the Kubernetes front door serves HTTPS with
// the certificate of a kubernetes.io/tls Secret, sends HSTS, redirects
// http:// (issue 12, finding 5), and its Service keeps client addresses
// (externalTrafficPolicy: Local, finding 8), which the front door then
// passes on in X-Forwarded-For: it trusts no client's, and the edges and
// the control plane trust only its (private) addresses.
func TestKubernetesFrontDoorTLS(t *testing.T) {
	m := loadManifests(t)
	var fd workload
	for _, w := range m.workloads() {
		if w.name == "shortify-frontdoor" {
			fd = w
		}
	}
	if fd.name == "" {
		t.Fatal("no Deployment shortify-frontdoor")
	}
	_, env, extra := k8sRole(t, m, fd)
	podEnv := resolveEnv(t, m, fd, fd.name+"-0", env)
	if podEnv["SHORTIFY_TLS"] != "files" {
		t.Fatalf("the front door runs with SHORTIFY_TLS %q, want files (HTTPS in the pod)", podEnv["SHORTIFY_TLS"])
	}
	cfg := adaptRole(t, fd.name, frontDoor, podEnv, extra)
	if cfg == nil {
		return
	}
	public := at(map[string]any(cfg), "apps", "http", "servers", "public")
	if at(public, "tls_connection_policies") == nil {
		t.Error("the front door's public server has no TLS connection policy: it serves plain HTTP")
	}
	hsts := false
	for _, h := range handlers(cfg)["public"] {
		if h["handler"] == "headers" && strings.Contains(str(at(h, "response", "set", "Strict-Transport-Security", 0)), "max-age=") {
			hsts = true
		}
	}
	if !hsts {
		t.Error("the front door's answers carry no Strict-Transport-Security")
	}
	// The certificate files come from a mounted kubernetes.io/tls Secret.
	files, _ := at(map[string]any(cfg), "apps", "tls", "certificates", "load_files").([]any)
	if len(files) != 1 {
		t.Fatalf("the front door loads %d certificates, want 1", len(files))
	}
	for _, field := range []string{"certificate", "key"} {
		path := str(at(files[0], field))
		if !fromTLSSecret(t, m, fd, path) {
			t.Errorf("the front door's %s %s is no key of a kubernetes.io/tls Secret mounted there", field, path)
		}
	}
	ports := map[string]string{} // container port name -> number
	for _, c := range fd.containers() {
		ps, _ := c["ports"].([]any)
		for _, p := range ps {
			ports[str(at(p, "name"))] = str(at(p, "containerPort"))
		}
	}
	if l := strs(at(public, "listen")); len(l) != 1 || l[0] != ":"+ports["https"] {
		t.Errorf("the HTTPS server listens on %v; the container's https port is %s", l, ports["https"])
	}
	redirect := false
	for name, srv := range at(map[string]any(cfg), "apps", "http", "servers").(map[string]any) {
		if slices.Contains(strs(at(srv, "listen")), ":"+ports["http"]) && name != "public" {
			for _, h := range handlers(cfg)[name] {
				if h["handler"] == "static_response" && str(h["status_code"]) == "308" && strings.HasPrefix(str(at(h, "headers", "Location", 0)), "https://") {
					redirect = true
				}
			}
		}
	}
	if !redirect {
		t.Error("the front door's http port does not redirect to https://")
	}

	svc, _ := m.get("Service", "shortify-frontdoor")
	spec := at(map[string]any(svc), "spec")
	if str(at(spec, "externalTrafficPolicy")) != "Local" {
		t.Errorf("Service shortify-frontdoor: externalTrafficPolicy %q, want Local (client addresses for the rate limits)", str(at(spec, "externalTrafficPolicy")))
	}
	want := map[string]string{"443": "https", "80": "http"}
	got := map[string]string{}
	sp, _ := at(spec, "ports").([]any)
	for _, p := range sp {
		got[str(at(p, "port"))] = str(at(p, "targetPort"))
	}
	if !maps.Equal(got, want) {
		t.Errorf("Service shortify-frontdoor ports %v, want %v", got, want)
	}

	// X-Forwarded-For: the front door believes no client's (Caddy then
	// replaces it with the peer's address), the others believe the front
	// door's, which is a pod address in a private range.
	for name, srv := range at(map[string]any(cfg), "apps", "http", "servers").(map[string]any) {
		if at(srv, "trusted_proxies") != nil {
			t.Errorf("the front door's server %s trusts proxies %v: clients could forge X-Forwarded-For", name, at(srv, "trusted_proxies"))
		}
	}
	for _, w := range m.workloads() {
		role, env, extra := k8sRole(t, m, w)
		if role != "edge" && role != "controlplane" {
			continue
		}
		c := adaptRole(t, w.name, filepath.Join("caddyfiles", role+".Caddyfile"), resolveEnv(t, m, w, w.name+"-0", env), extra)
		if c == nil {
			continue
		}
		tp := at(map[string]any(c), "apps", "shortify", "trusted_proxies")
		if h := findHandler(c, "public", "shortify_edge"); h != nil {
			tp = h["trusted_proxies"]
		}
		if !slices.Equal(strs(tp), []string{"private_ranges"}) {
			t.Errorf("%s trusts proxies %v, want private_ranges (the front door's pods)", w.name, tp)
		}
	}
}

// fromTLSSecret reports whether path is a file of a kubernetes.io/tls
// Secret mounted in w's container.
func fromTLSSecret(t *testing.T, m manifests, w workload, path string) bool {
	t.Helper()
	kind, name, key := mountedFrom(w, path)
	secret, ok := m.get("Secret", name)
	return kind == "Secret" && ok && str(secret["type"]) == "kubernetes.io/tls" && (key == "tls.crt" || key == "tls.key")
}

// mountedFrom returns the ConfigMap or Secret key that the file at path
// in w's container comes from ("" when none: the file does not exist).
func mountedFrom(w workload, path string) (kind, name, key string) {
	vols := map[string]map[string]any{}
	vs, _ := w.pod["volumes"].([]any)
	for _, v := range vs {
		vols[str(at(v, "name"))] = v.(map[string]any)
	}
	for _, c := range w.containers() {
		ms, _ := c["volumeMounts"].([]any)
		for _, mt := range ms {
			rel, ok := strings.CutPrefix(path, str(at(mt, "mountPath"))+"/")
			if !ok {
				continue
			}
			v := vols[str(at(mt, "name"))]
			for k, field := range map[string]string{"Secret": "secret", "ConfigMap": "configMap"} {
				src, ok := v[field].(map[string]any)
				if !ok {
					continue
				}
				its, _ := src["items"].([]any)
				for _, it := range its {
					if str(at(it, "path")) == rel {
						return k, cmpOr(str(src["secretName"]), str(src["name"])), str(at(it, "key"))
					}
				}
			}
		}
	}
	return "", "", ""
}

// checkSafeDefaults checks what a production role must not relax (issue
// 12, finding 10): the control plane refuses anonymous creates, and the
// edge keeps its limit on misses (a client guessing codes cost a lookup
// each and pushed real links out of L1).
func checkSafeDefaults(t *testing.T, where, role string, cfg adapted) {
	t.Helper()
	switch role {
	case "controlplane":
		if at(map[string]any(cfg), "apps", "shortify", "anonymous_create") == true {
			t.Errorf("%s: anonymous_create is on in a production role", where)
		}
	case "edge":
		h := findHandler(cfg, "public", "shortify_edge")
		if n, _ := at(h, "miss_limit", "requests").(float64); n <= 0 {
			t.Errorf("%s: the edge has no miss_limit (%v)", where, at(h, "miss_limit"))
		}
	}
}
