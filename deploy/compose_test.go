package deploy_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const composeDir = "compose"

// composeFile is the part of a compose file the checks read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Networks    yaml.Node         `yaml:"networks"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart string   `yaml:"restart"`
	Ports   []string `yaml:"ports"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// composeSecrets are values for the variables compose.yaml requires (an
// operator's .env file), each of them a test value.
var composeSecrets = map[string]string{
	"SHORTIFY_PG_PASSWORD":          "test-pg-password",
	"SHORTIFY_STATS_PG_PASSWORD":    "test-stats-pg-password",
	"SHORTIFY_REPLICATION_PASSWORD": "test-replication-password",
	"SHORTIFY_VISITOR_KEY":          "test-visitor-key-8e4b0d6a2c1f",
	"GRAFANA_ADMIN_PASSWORD":        "test-grafana-password",
	"PROMETHEUS_PASSWORD":           "test-prometheus-password",
	"PROMETHEUS_PASSWORD_HASH":      "$2a$14$test.hash.of.the.prometheus.password",
	// The brokers' users (kafka/create-topics.sh).
	"SHORTIFY_KAFKA_ADMIN_PASSWORD":        "test-kafka-admin-password",
	"SHORTIFY_KAFKA_CONTROLPLANE_PASSWORD": "test-kafka-controlplane-password",
	"SHORTIFY_KAFKA_EDGE_PASSWORD":         "test-kafka-edge-password",
	"SHORTIFY_KAFKA_STATS_PASSWORD":        "test-kafka-stats-password",
}

// loadCompose reads compose.yaml with composeSecrets set and every other
// variable at its default.
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(composeDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := interpolate(string(raw), composeSecrets)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var f composeFile
	if err := yaml.Unmarshal([]byte(text), &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return f
}

// mounts splits a service's volumes into named volumes and bind mounts
// (target -> source, the source relative to compose.yaml).
func (s composeService) mounts() (named, binds map[string]string) {
	named, binds = map[string]string{}, map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		src, dst := parts[0], parts[1]
		if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
			binds[dst] = src
		} else {
			named[dst] = src
		}
	}
	return named, binds
}

// role is the role Caddyfile a Shortify service runs ("" for others).
func (s composeService) role() string {
	_, binds := s.mounts()
	src := binds[roleMount+"/Caddyfile"]
	if src == "" {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(src), ".Caddyfile")
}

// TestComposeReferences checks what `docker compose config` checks and
// more: every dependency, volume, network, bind-mounted file and build
// context exists, health conditions have health checks, one-shot jobs do
// not restart, and fixed addresses lie in their network.
func TestComposeReferences(t *testing.T) {
	f := loadCompose(t)
	for name, s := range f.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
		if s.Build != nil {
			ctx := filepath.Join(composeDir, s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := f.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on %s, which is no service", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("%s waits for %s to be healthy, which has no health check", name, dep)
			case d.Condition == "service_completed_successfully" && target.Restart != "no":
				t.Errorf("%s waits for %s to complete, which restarts (restart %q)", name, dep, target.Restart)
			case !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, d.Condition):
				t.Errorf("%s: depends_on %s: condition %q", name, dep, d.Condition)
			}
		}
		named, binds := s.mounts()
		for dst, vol := range named {
			if _, ok := f.Volumes[vol]; !ok {
				t.Errorf("%s mounts volume %s at %s, which is not declared", name, vol, dst)
			}
		}
		for dst, src := range binds {
			if _, err := os.Stat(filepath.Join(composeDir, src)); err != nil {
				t.Errorf("%s mounts %s at %s: %v", name, src, dst, err)
			}
		}
		checkNetworks(t, f, name, s)
	}
}

// checkNetworks checks that s is on declared networks, with any fixed
// address inside the network's subnet.
func checkNetworks(t *testing.T, f composeFile, name string, s composeService) {
	t.Helper()
	nets := map[string]string{}
	switch s.Networks.Kind {
	case yaml.SequenceNode:
		for _, n := range s.Networks.Content {
			nets[n.Value] = ""
		}
	case yaml.MappingNode:
		var m map[string]struct {
			IPv4 string `yaml:"ipv4_address"`
		}
		if err := s.Networks.Decode(&m); err != nil {
			t.Fatalf("%s: networks: %v", name, err)
		}
		for n, v := range m {
			nets[n] = v.IPv4
		}
	default:
		t.Errorf("%s: on no network", name)
	}
	for n, ip := range nets {
		decl, ok := f.Networks[n]
		if !ok {
			t.Errorf("%s: network %s is not declared", name, n)
			continue
		}
		if ip == "" {
			continue
		}
		in := false
		for _, c := range decl.IPAM.Config {
			if _, cidr, err := net.ParseCIDR(c.Subnet); err == nil && cidr.Contains(net.ParseIP(ip)) {
				in = true
			}
		}
		if !in {
			t.Errorf("%s: address %s is outside network %s's subnets", name, ip, n)
		}
	}
}

// TestComposeEngines checks the shape of the engines: two streaming
// replicas of the primary with slots of their own, a Redis Cluster of six
// nodes that the create job knows, three KRaft brokers with replication
// factor 3 and min.insync.replicas 2, and the topics job.
func TestComposeEngines(t *testing.T) {
	f := loadCompose(t)

	var replicas, slots []string
	for name, s := range f.Services {
		if host := s.Environment["PRIMARY_HOST"]; host != "" {
			replicas = append(replicas, name)
			slots = append(slots, s.Environment["SLOT_NAME"])
			if _, ok := f.Services[host]; !ok {
				t.Errorf("%s replicates %s, which is no service", name, host)
			}
			if _, ok := s.DependsOn[host]; !ok {
				t.Errorf("%s does not wait for its primary %s", name, host)
			}
		}
	}
	slices.Sort(slots)
	if len(replicas) != 2 || len(slices.Compact(slots)) != 2 {
		t.Errorf("want 2 streaming replicas with distinct slots, got %v with slots %v", replicas, slots)
	}

	var redisNodes []string
	for name, s := range f.Services {
		if slices.Contains(s.Command, "--cluster-enabled") {
			redisNodes = append(redisNodes, name)
			if i := slices.Index(s.Command, "--cluster-announce-hostname"); i < 0 || s.Command[i+1] != name {
				t.Errorf("%s announces another host name than its own", name)
			}
		}
	}
	slices.Sort(redisNodes)
	script := readFile(t, filepath.Join(composeDir, "redis", "cluster-create.sh"))
	if len(redisNodes) != 6 || !strings.Contains(script, `NODES="`+strings.Join(redisNodes, " ")+`"`) ||
		!strings.Contains(script, "--cluster-replicas 1") {
		t.Errorf("want 6 Redis Cluster nodes, 3 masters with a replica each, all in cluster-create.sh; got %v", redisNodes)
	}

	var voters []string
	brokers := map[string]composeService{}
	for name, s := range f.Services {
		if id := s.Environment["KAFKA_NODE_ID"]; id != "" {
			brokers[name] = s
			voters = append(voters, id+"@"+name+":9093")
			if got, want := s.Environment["KAFKA_ADVERTISED_LISTENERS"], "CLIENT://"+name+":9092,INTERNAL://"+name+":9094"; got != want {
				t.Errorf("%s advertises %q, want %q", name, got, want)
			}
		}
	}
	slices.Sort(voters)
	if len(brokers) != 3 {
		t.Fatalf("want 3 Kafka brokers, got %d", len(brokers))
	}
	for name, s := range brokers {
		env := s.Environment
		if got := strings.Split(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], ","); !slices.Equal(sorted(got), voters) {
			t.Errorf("%s: quorum voters %v, want %v", name, got, voters)
		}
		for k, want := range map[string]string{
			"KAFKA_PROCESS_ROLES": "broker,controller", "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
			"KAFKA_MIN_INSYNC_REPLICAS": "2", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
			// Issue 12: every listener needs a password, ACLs decide.
			"KAFKA_AUTHORIZER_CLASS_NAME":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
			"KAFKA_SUPER_USERS":                    "User:admin",
		} {
			if env[k] != want {
				t.Errorf("%s: %s = %q, want %q", name, k, env[k], want)
			}
		}
		for _, l := range strings.Split(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ",") {
			if !strings.HasSuffix(l, ":SASL_PLAINTEXT") && !strings.HasSuffix(l, ":SASL_SSL") {
				t.Errorf("%s: listener %s takes clients without a password", name, l)
			}
		}
	}
	topics := readFile(t, filepath.Join(composeDir, "kafka", "create-topics.sh"))
	for _, want := range []string{"--replication-factor 3", "min.insync.replicas=2", "create clicks ", "create shortify.link-events "} {
		if !strings.Contains(topics, want) {
			t.Errorf("create-topics.sh lacks %q", want)
		}
	}
	// Only the control plane may write link events (issue 12).
	for _, line := range strings.Split(topics, "\n") {
		if strings.HasPrefix(line, "allow ") && strings.Contains(line, "shortify.link-events") &&
			strings.Contains(line, " Write ") && !strings.HasPrefix(line, "allow controlplane ") {
			t.Errorf("create-topics.sh lets another user write link events: %s", line)
		}
	}
	if !strings.Contains(topics, "allow controlplane Write --topic shortify.link-events") {
		t.Error("create-topics.sh does not let the control plane write link events")
	}
	job := f.Services["kafka-topics"]
	for b := range brokers {
		if !strings.Contains(job.Environment["KAFKA_BOOTSTRAP"], b+":9094") { // INTERNAL, as admin
			t.Errorf("the topics job does not bootstrap from %s", b)
		}
	}
}

// TestComposeConfig runs `docker compose config`, the check the issue
// names, where the compose plugin is installed. The Docker client alone
// does not have it: then TestComposeSpec's load with compose-go, the
// library the plugin validates and interpolates with, is the check. (The
// plugin builds from its module's source, docker/compose v2.40.3, but
// took 24 minutes on this 2-core machine, and `go install ...@version`
// refuses it for its exclude directives.)
func TestComposeConfig(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Logf("the docker compose plugin is not installed here (%v): compose.yaml was validated with %s (TestComposeSpec) instead", err, composeGoModule)
		return
	}
	cmd := exec.Command("docker", "compose", "-f", filepath.Join(composeDir, "compose.yaml"), "config", "--quiet")
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
	t.Log("docker compose config --quiet passed (the docker compose plugin)")
}

func findHandler(cfg adapted, server, name string) map[string]any {
	for _, h := range handlers(cfg)[server] {
		if h["handler"] == name {
			return h
		}
	}
	return nil
}

func hostsOf(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(strings.TrimSpace(a)); err == nil {
			out = append(out, h)
		}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
