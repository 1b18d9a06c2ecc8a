//go:build faults

package backup

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The drill's control plane: three shortify processes on loopback, each
// serving the API and the edge handler (redirects straight from the link
// database) on one port, with cluster TLS between them.

// nodeCaddyfile is one control-plane node: the shortify app, the API
// under /api/ and the edge handler for everything else.
const nodeCaddyfile = `{
	admin 127.0.0.1:{{ADMIN}}
	auto_https off
	persist_config off
	shortify {
		data_dir {{DATA}}
		node_id {{ID}}
		raft_bind 127.0.0.1:{{RAFT}}
		api_addr https://127.0.0.1:{{INTERNAL}}
		cluster_listen 127.0.0.1:{{INTERNAL}}
		cluster_ca {{CA}}
		cluster_cert {{CERT}}
		cluster_key {{KEY}}
		{{MEMBERSHIP}}
		database {{DB}}
		public_url http://127.0.0.1:{{PORT}}
		initial_api_key {env.SHORTIFY_INITIAL_API_KEY}
		anonymous_create off
		fetch_titles off
	}
}

http://127.0.0.1:{{PORT}} {
	handle /api/* {
		shortify_api
	}
	handle {
		shortify_edge {
			database {{DB}}
			cache_ttl 1s
		}
	}
}
`

// node is one running control-plane process.
type node struct {
	id   string
	url  string // http://127.0.0.1:port
	dir  string
	proc *procs.Process
}

// cluster is three nodes on one link database.
type cluster struct {
	nodes []*node
	key   string
}

// ports are a node's listeners.
type ports struct{ port, admin, raft, internal int }

func freePorts(t *testing.T) ports {
	t.Helper()
	var p [4]int
	for i := range p {
		n, err := procs.FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		p[i] = n
	}
	return ports{p[0], p[1], p[2], p[3]}
}

// clusterTLS makes a cluster CA and three node certificates in dir.
func clusterTLS(t *testing.T, dir string) []clustertls.Files {
	t.Helper()
	ca, err := clustertls.NewCA("shortify backup drill CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	files := make([]clustertls.Files, 3)
	for i := range files {
		name := "node" + strconv.Itoa(i+1)
		if err := ca.WriteCert(dir, name, []string{"127.0.0.1", "localhost"}, 0); err != nil {
			t.Fatal(err)
		}
		files[i] = clustertls.Files{CA: filepath.Join(dir, clustertls.CACertFile),
			Cert: filepath.Join(dir, clustertls.CertFile(name)), Key: filepath.Join(dir, clustertls.KeyFile(name))}
	}
	return files
}

// startCluster starts three nodes in fresh directories under dir on the
// link database db: node1 bootstraps (restoring restoreFrom when it is
// not ""), then node2 and node3 join. It returns once all three are
// ready and each sees three members.
func startCluster(t *testing.T, dir, db, adminKey, restoreFrom string, tlsFiles []clustertls.Files) *cluster {
	t.Helper()
	c := &cluster{key: adminKey}
	ps := make([]ports, 3)
	for i := range ps {
		ps[i] = freePorts(t)
	}
	for i := range 3 {
		id := "node" + strconv.Itoa(i+1)
		membership := "bootstrap true"
		if restoreFrom != "" {
			membership += "\n\t\trestore_from " + restoreFrom
		}
		if i > 0 {
			membership = "join https://127.0.0.1:" + strconv.Itoa(ps[0].internal)
		}
		conf := strings.NewReplacer(
			"{{ADMIN}}", strconv.Itoa(ps[i].admin), "{{DATA}}", filepath.Join(dir, id, "data"), "{{ID}}", id,
			"{{RAFT}}", strconv.Itoa(ps[i].raft), "{{INTERNAL}}", strconv.Itoa(ps[i].internal),
			"{{CA}}", tlsFiles[i].CA, "{{CERT}}", tlsFiles[i].Cert, "{{KEY}}", tlsFiles[i].Key,
			"{{MEMBERSHIP}}", membership, "{{DB}}", db, "{{PORT}}", strconv.Itoa(ps[i].port),
		).Replace(nodeCaddyfile)
		nd := filepath.Join(dir, id)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(nd, "Caddyfile")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &node{id: id, url: "http://127.0.0.1:" + strconv.Itoa(ps[i].port), dir: nd})
	}
	// node1 alone first, so that it leads (and has restored) before the
	// others join.
	c.start(t, c.nodes[0])
	c.start(t, c.nodes[1])
	c.start(t, c.nodes[2])
	for _, n := range c.nodes {
		cl := c.client(t, n)
		c.waitFor(t, n, "three members", 90*time.Second, func() bool {
			info, err := cl.Cluster(context.Background())
			return err == nil && len(info.Nodes) == 3
		})
	}
	t.Cleanup(func() { c.stop(t) })
	return c
}

// start runs one node and waits until it is ready.
func (c *cluster) start(t *testing.T, n *node) {
	t.Helper()
	cmd := exec.Command(testenv.Shortify(t), "run", "--config", filepath.Join(n.dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), "SHORTIFY_INITIAL_API_KEY="+c.key,
		"XDG_DATA_HOME="+filepath.Join(n.dir, "caddy-data"), "XDG_CONFIG_HOME="+filepath.Join(n.dir, "caddy-config"))
	p, err := procs.Start(n.id, cmd, filepath.Join(n.dir, "shortify.log"))
	if err != nil {
		t.Fatal(err)
	}
	n.proc = p
	c.waitFor(t, n, "ready", 90*time.Second, func() bool {
		resp, err := http.Get(n.url + "/api/v1/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// waitFor polls cond, failing at once if n exits.
func (c *cluster) waitFor(t *testing.T, n *node, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, n.id+": "+what, within, func() bool {
		if exited, err := n.proc.Exited(); exited {
			t.Fatalf("%s exited (%v) while waiting for %s:\n%s", n.id, err, what, n.proc.LogTail(6000))
		}
		return cond()
	})
}

// stop stops every node with SIGINT (Caddy stops its apps cleanly).
func (c *cluster) stop(t *testing.T) {
	t.Helper()
	for _, n := range c.nodes {
		if n.proc == nil {
			continue
		}
		if exited, _ := n.proc.Exited(); exited {
			continue
		}
		if err := n.proc.Stop(syscall.SIGINT, 30*time.Second); err != nil {
			t.Errorf("stop %s: %v", n.id, err)
		}
	}
}

// logs is every node's log, joined.
func (c *cluster) logs(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, n := range c.nodes {
		data, err := os.ReadFile(filepath.Join(n.dir, "shortify.log"))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// client is an admin client of node n.
func (c *cluster) client(t *testing.T, n *node) *client.Client {
	t.Helper()
	return c.clientAs(t, n, c.key)
}

// clientAs is a client of node n with key.
func (c *cluster) clientAs(t *testing.T, n *node, key string) *client.Client {
	t.Helper()
	cl, err := client.New(n.url, client.WithAPIKey(key), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// createDatabase makes an empty database on the test server and drops it
// when the test ends; it returns its DSN.
func createDatabase(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.AdminDSN())
	if err != nil {
		t.Fatalf("PostgreSQL at the test DSN: %v", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testenv.AdminDSN())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return dsnFor(t, name)
}

// dsnFor is the admin DSN with database name.
func dsnFor(t *testing.T, name string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) { testenv.Main(m) }
