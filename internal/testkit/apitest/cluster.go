package apitest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// ServeCluster is Serve on a SQLite link store with a real one-node
// cluster (node ID "solo") behind the cluster routes (backups, status):
// what the clients of those routes are tested against. The node closes
// when the test ends.
func ServeCluster(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := cluster.Open(ctx, cluster.Config{NodeID: "solo", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0",
		Bootstrap: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open a one-node cluster: %v", err)
	}
	t.Cleanup(func() { _ = node.Close() })
	return ServeWith(t, teststore.SQLite(t), func(d *api.Deps) { d.Cluster = node })
}
