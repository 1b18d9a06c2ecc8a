package controlplane

import (
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// startConfig loads cfg (the shortify app's JSON) as Caddy does at start,
// with the admin endpoint off, and stops it if it started.
func startConfig(t *testing.T, app map[string]any) error {
	t.Helper()
	if _, ok := app["public_url"]; !ok {
		app["public_url"] = "https://sho.rt.test"
	}
	cfg, err := json.Marshal(map[string]any{
		"admin":   map[string]any{"disabled": true},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps":    map[string]any{"shortify": app},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = caddy.Load(cfg, true)
	if err == nil {
		t.Cleanup(func() { _ = caddy.Stop() })
	}
	return err
}

// clusterFilesIn makes a CA and a node certificate in dir.
func clusterFilesIn(t *testing.T, dir string) clustertls.Files {
	t.Helper()
	ca, err := clustertls.NewCA("test", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCert(dir, "node1", []string{"127.0.0.1"}, 0); err != nil {
		t.Fatal(err)
	}
	return clustertls.Files{CA: filepath.Join(dir, clustertls.CACertFile), Cert: filepath.Join(dir, "node1.crt"), Key: filepath.Join(dir, "node1.key")}
}

// TestClusterSecretRefusedAtStart: a config that still sets
// cluster_secret (the shared string that was an admin key in effect) does
// not start, and says what replaced it.
func TestClusterSecretRefusedAtStart(t *testing.T) {
	err := startConfig(t, map[string]any{"data_dir": t.TempDir(), "cluster_secret": "compose-cluster-secret-change-me"})
	if err == nil || !strings.Contains(err.Error(), "cluster_secret was removed") ||
		!strings.Contains(err.Error(), "cluster_ca, cluster_cert and cluster_key") || !strings.Contains(err.Error(), "shortify cluster-ca") {
		t.Fatalf("start with cluster_secret: %v", err)
	}
}

// TestClusterSettingsRefusedAtStart: placeholders that do not resolve,
// half the TLS files, and multi-node settings without TLS each stop the
// node from starting with an error naming the setting.
func TestClusterSettingsRefusedAtStart(t *testing.T) {
	files := clusterFilesIn(t, t.TempDir())
	t.Setenv("SHORTIFY_TEST_CLUSTER_CERT", files.Cert)
	tests := []struct {
		name   string
		app    map[string]any
		errHas string
	}{
		{"unset variable", map[string]any{"cluster_ca": files.CA, "cluster_cert": "{env.SHORTIFY_TEST_UNSET_CERT}", "cluster_key": files.Key},
			`cluster_cert is "{env.SHORTIFY_TEST_UNSET_CERT}", which did not resolve`},
		{"missing file", map[string]any{"cluster_ca": "{file./nonexistent/ca.crt}", "cluster_cert": files.Cert, "cluster_key": files.Key},
			"cluster_ca is"},
		{"half the files", map[string]any{"cluster_ca": files.CA, "cluster_cert": "{env.SHORTIFY_TEST_CLUSTER_CERT}"}, "cluster_key] missing"},
		{"join without TLS", map[string]any{"join": []string{"https://10.0.0.6:8301"}, "api_addr": "https://10.0.0.5:8301"}, "need cluster TLS"},
		{"listen without TLS", map[string]any{"cluster_listen": "127.0.0.1:0"}, "need cluster TLS"},
		{"api_addr without cluster_listen", map[string]any{"cluster_ca": files.CA, "cluster_cert": files.Cert, "cluster_key": files.Key,
			"api_addr": "https://10.0.0.5:8301"}, "needs cluster_listen"},
		{"plain http api_addr", map[string]any{"cluster_ca": files.CA, "cluster_cert": files.Cert, "cluster_key": files.Key,
			"cluster_listen": "127.0.0.1:0", "api_addr": "http://10.0.0.5:8080"}, "https"},
		{"public raft_bind without TLS", map[string]any{"raft_bind": "0.0.0.0:8300", "raft_advertise": "10.0.0.5:8300"}, "not a loopback address"},
		{"certificate of another CA", map[string]any{"cluster_ca": clusterFilesIn(t, t.TempDir()).CA, "cluster_cert": files.Cert, "cluster_key": files.Key},
			"not a node certificate of cluster_ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.app["data_dir"] = t.TempDir()
			err := startConfig(t, tt.app)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("start: %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}

// TestClusterSettingsResolve: {env.X} in a cluster_* value is expanded at
// provision, and the files it names load.
func TestClusterSettingsResolve(t *testing.T) {
	files := clusterFilesIn(t, t.TempDir())
	t.Setenv("SHORTIFY_TEST_CLUSTER_CERT", files.Cert)
	a := &App{ClusterCA: files.CA, ClusterCert: "{env.SHORTIFY_TEST_CLUSTER_CERT}", ClusterKey: files.Key, ClusterListen: "127.0.0.1:0", DataDir: t.TempDir(), PublicURL: "https://sho.rt.test"}
	if err := a.resolveCluster(); err != nil {
		t.Fatal(err)
	}
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if a.ClusterCert != files.Cert {
		t.Fatalf("cluster_cert = %q, want %q", a.ClusterCert, files.Cert)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestOneNodeDataDirUpgrade: the data directory of a one-node control
// plane that listened for Raft on TCP (the release before cluster TLS did,
// on raft_bind 127.0.0.1:8300; with cluster TLS the transport is TCP too)
// opens as the embedded default now runs it, without cluster TLS and on
// no port: its admin key and its links are still there.
func TestOneNodeDataDirUpgrade(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	files := clusterFilesIn(t, t.TempDir())
	old := &App{DataDir: dir, RaftBind: testenv.FreeAddr(t), InitialAPIKey: key.Secret,
		ClusterCA: files.CA, ClusterCert: files.Cert, ClusterKey: files.Key}
	if err := old.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	svc, err := openService(old.serviceConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	link := linkstore.Link{ID: 1, Code: "upgr4d", URL: "https://example.com/kept", CreatedAt: time.Now().UTC()}
	if err := svc.store.Create(t.Context(), link); err != nil {
		t.Fatal(err)
	}
	if err := svc.Destruct(); err != nil {
		t.Fatal(err)
	}

	now := &App{DataDir: dir, RaftBind: old.RaftBind, PublicURL: "https://sho.rt.test"}
	if err := now.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := now.Validate(); err != nil {
		t.Fatal(err)
	}
	svc, err = openService(now.serviceConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen without cluster TLS: %v", err)
	}
	defer svc.Destruct()
	if _, ok := apiauth.Authenticate(nodeKeys{svc.node}, key.Secret); !ok {
		t.Fatal("the admin key is gone")
	}
	got, err := svc.store.Get(t.Context(), "", link.Code)
	if err != nil || got.URL != link.URL {
		t.Fatalf("link %s: %+v, %v", link.Code, got, err)
	}
	if st := svc.node.State(); st.RaftState != "Leader" {
		t.Fatalf("state %+v", st)
	}
	if c, err := net.DialTimeout("tcp", now.RaftBind, time.Second); err == nil {
		c.Close()
		t.Fatalf("a Raft port listens at %s", now.RaftBind)
	}
}
