package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeGoModule is the loader `docker compose config` is built on.
const composeGoModule = "github.com/compose-spec/compose-go/v2"

// loadComposeSpec loads compose.yaml as `docker compose config` does:
// with compose-go, validating it against the Compose schema, interpolating
// the variables (with composeSecrets set, the others at their defaults),
// resolving the merges and checking that every service, network and
// volume a service names is defined. The required secrets get stand-ins.
func loadComposeSpec(t *testing.T) *types.Project {
	t.Helper()
	p, err := composeSpec(filepath.Join(composeDir, "compose.yaml"), composeSecrets)
	if err != nil {
		t.Fatalf("compose.yaml does not load as docker compose would load it: %v", err)
	}
	return p
}

// composeSpec loads the compose file at path with compose-go, with env
// as the whole environment (and more options: cli.WithProfiles).
func composeSpec(path string, env map[string]string, more ...cli.ProjectOptionsFn) (*types.Project, error) {
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{path}, append([]cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(kv),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
		cli.WithNormalization(true),
	}, more...)...)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// TestComposeSpecRejects: the loader refuses what `docker compose config`
// refuses, so that TestComposeSpec's pass means something.
func TestComposeSpecRejects(t *testing.T) {
	for name, text := range map[string]string{
		"unknown key":             "services:\n  a:\n    image: busybox\n    imagee: x\n",
		"missing dependency":      "services:\n  a:\n    image: busybox\n    depends_on: [b]\n",
		"undefined network":       "services:\n  a:\n    image: busybox\n    networks: [n]\n",
		"bad port":                "services:\n  a:\n    image: busybox\n    ports: [\"http:x\"]\n",
		"required variable":       "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n",
		"neither image nor build": "services:\n  a:\n    command: [x]\n",
	} {
		path := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := composeSpec(path, nil); err == nil {
			t.Errorf("%s: loaded without an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// env is a service's environment, the unset variables as "".
func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// roleOf is the Shortify role a service runs: the role Caddyfile mounted
// at roleMount/Caddyfile (controlplane, edge, stats, frontdoor), or "".
func roleOf(s types.ServiceConfig) string {
	for _, v := range s.Volumes {
		if v.Target == roleMount+"/Caddyfile" {
			return strings.TrimSuffix(filepath.Base(v.Source), ".Caddyfile")
		}
	}
	return ""
}

// TestComposeSpec loads compose.yaml with compose-go (schema, interpolation,
// consistency: what `docker compose config` checks) and checks on the
// loaded model the production shape the stack promises.
func TestComposeSpec(t *testing.T) {
	p := loadComposeSpec(t)
	t.Logf("compose.yaml loaded with %s %s: %d services", composeGoModule, goList(t, "-m", "-f", "{{.Version}}", composeGoModule), len(p.Services))

	// Every variable has a default or is set: nothing is left to
	// interpolate.
	out, err := p.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "${") {
		t.Error("the loaded project still has ${...} after interpolation")
	}

	byImage := func(prefix string) []string {
		var names []string
		for name, s := range p.Services {
			if strings.HasPrefix(s.Image, prefix) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names
	}

	// Kafka: three brokers in KRaft mode (broker and controller, a quorum
	// of the three, no ZooKeeper), replication factor 3, min.insync 2.
	var brokers []string
	for name, s := range p.Services {
		e := env(s)
		if e["KAFKA_NODE_ID"] == "" {
			continue
		}
		brokers = append(brokers, name)
		for k, want := range map[string]string{
			"KAFKA_PROCESS_ROLES": "broker,controller", "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
			"KAFKA_MIN_INSYNC_REPLICAS": "2", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
		} {
			if e[k] != want {
				t.Errorf("%s: %s = %q, want %q", name, k, e[k], want)
			}
		}
		if n := len(strings.Split(e["KAFKA_CONTROLLER_QUORUM_VOTERS"], ",")); n != 3 {
			t.Errorf("%s: %d controller quorum voters, want 3", name, n)
		}
	}
	if len(brokers) != 3 {
		t.Errorf("Kafka brokers %v, want 3", brokers)
	}
	if zk := byImage("zookeeper"); len(zk) != 0 {
		t.Errorf("ZooKeeper services %v in a KRaft stack", zk)
	}

	// Topics: created by a job with their partition counts, after every
	// broker is healthy.
	topics, ok := p.Services["kafka-topics"]
	if !ok {
		t.Fatal("no kafka-topics service")
	}
	te := env(topics)
	if te["CLICKS_PARTITIONS"] != "48" || te["LINK_EVENTS_PARTITIONS"] != "12" {
		t.Errorf("kafka-topics partitions: clicks %q, link events %q; want 48 and 12", te["CLICKS_PARTITIONS"], te["LINK_EVENTS_PARTITIONS"])
	}
	script := readFile(t, filepath.Join(composeDir, "kafka", "create-topics.sh"))
	for _, want := range []string{`create clicks "${CLICKS_PARTITIONS`, `create shortify.link-events "${LINK_EVENTS_PARTITIONS`, `--partitions "$2"`} {
		if !strings.Contains(script, want) {
			t.Errorf("create-topics.sh lacks %q", want)
		}
	}
	for _, b := range brokers {
		if d, ok := topics.DependsOn[b]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("kafka-topics does not wait for %s to be healthy", b)
		}
	}

	// PostgreSQL: a primary with two streaming replicas, and the stats
	// database on a server of its own.
	var replicas []string
	for name, s := range p.Services {
		if h := env(s)["PRIMARY_HOST"]; h != "" {
			replicas = append(replicas, name)
			if h != "pg-primary" {
				t.Errorf("%s replicates %s, want pg-primary", name, h)
			}
		}
	}
	if len(replicas) != 2 {
		t.Errorf("streaming replicas %v, want 2", replicas)
	}
	if _, ok := p.Services["pg-primary"]; !ok {
		t.Error("no pg-primary service")
	}
	if s, ok := p.Services["stats-db"]; !ok || !strings.HasPrefix(s.Image, "postgres:") || env(s)["POSTGRES_DB"] != "stats" {
		t.Error("no stats-db PostgreSQL server with a stats database")
	}

	// Redis Cluster: six nodes (three masters and their replicas, made by
	// a job that waits for all six).
	var redisNodes []string
	for name, s := range p.Services {
		if slices.Contains(s.Command, "--cluster-enabled") {
			redisNodes = append(redisNodes, name)
		}
	}
	if len(redisNodes) != 6 {
		t.Errorf("Redis Cluster nodes %v, want 6", redisNodes)
	}
	create, ok := p.Services["redis-cluster-create"]
	if !ok {
		t.Error("no redis-cluster-create service")
	}
	for _, n := range redisNodes {
		if _, ok := create.DependsOn[n]; !ok {
			t.Errorf("redis-cluster-create does not wait for %s", n)
		}
	}
	if s := readFile(t, filepath.Join(composeDir, "redis", "cluster-create.sh")); !strings.Contains(s, "--cluster-replicas 1") {
		t.Error("cluster-create.sh does not give each master a replica")
	}

	// Shortify: three control-plane nodes, two edges behind the front door
	// (the load balancer, the one published port), two stats instances.
	roles := map[string][]string{}
	for name, s := range p.Services {
		if r := roleOf(s); r != "" {
			roles[r] = append(roles[r], name)
		}
	}
	for role, want := range map[string]int{"controlplane": 3, "edge": 2, "stats": 2, "frontdoor": 1} {
		if len(roles[role]) != want {
			t.Errorf("%s services %v, want %d", role, roles[role], want)
		}
	}
	if len(roles["frontdoor"]) == 1 {
		fd := p.Services[roles["frontdoor"][0]]
		upstreams := env(fd)["SHORTIFY_EDGE_UPSTREAMS"]
		for _, e := range roles["edge"] {
			if !strings.Contains(upstreams, e+":") {
				t.Errorf("the front door does not balance over %s (upstreams %q)", e, upstreams)
			}
		}
		if len(fd.Ports) != 1 || fd.Ports[0].Published != "8080" {
			t.Errorf("the front door publishes %+v, want 8080 (the default of SHORTIFY_PORT)", fd.Ports)
		}
	}
	for _, e := range roles["edge"] {
		if len(p.Services[e].Ports) != 0 {
			t.Errorf("edge %s publishes ports; clients reach the edges through the front door", e)
		}
	}

	// Monitoring.
	if got := byImage("prom/prometheus"); !slices.Equal(got, []string{"prometheus"}) {
		t.Errorf("Prometheus services %v", got)
	}
	if got := byImage("grafana/grafana"); !slices.Equal(got, []string{"grafana"}) {
		t.Errorf("Grafana services %v", got)
	}
}
