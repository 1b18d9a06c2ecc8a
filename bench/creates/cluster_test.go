package creates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/controlplane"
	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/linkstore/batch"
)

// benchCA is the benchmark clusters' CA: the nodes talk mutual TLS, as in
// production.
var benchCA = sync.OnceValues(func() (*clustertls.Authority, error) { return clustertls.NewCA("bench cluster CA", time.Hour) })

// node is one control-plane node, put together as controlplane/service.go
// does: a link store of its own (backend.Open, migrations on), a batcher
// over it, the Raft node, the API with the batcher as its Creator, served
// on a real 127.0.0.1 listener, and the internal listener (mutual TLS) of
// the node-to-node calls.
type node struct {
	id          string
	url         string // the public API's base URL
	internalURL string // the internal listener's, the node's api_addr
	dir         string
	store       linkstore.Store
	inserts     *counting
	creates     *batch.Batcher
	raft        *cluster.Node
	srv, intSrv *http.Server
	handler     atomic.Pointer[http.Handler]
	internal    atomic.Pointer[http.Handler]
}

// openNode starts a node on dsn. With join empty it bootstraps a new
// cluster; otherwise it joins through the APIs listed.
func openNode(ctx context.Context, id, dsn string, join []string, log *slog.Logger) (_ *node, err error) {
	n := &node{id: id}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.dir, err = os.MkdirTemp("", "shortify-bench-"+id+"-"); err != nil {
		return nil, err
	}
	ca, err := benchCA()
	if err != nil {
		return nil, err
	}
	tc, err := ca.Config(id, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.url = "http://" + ln.Addr().String()
	n.srv = &http.Server{Handler: api.Pending(&n.handler), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
	iln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.internalURL = "https://" + iln.Addr().String()
	n.intSrv = &http.Server{Handler: api.Pending(&n.internal), TLSConfig: tc.Server(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.intSrv.ServeTLS(iln, "", "") }()

	if n.store, err = backend.Open(ctx, linkstore.Config{DSN: dsn, Migrate: true}); err != nil {
		return nil, fmt.Errorf("open link store: %w", err)
	}
	n.inserts = &counting{Inserter: n.store}
	n.creates = batch.New(n.inserts, batch.Options{})
	n.raft, err = cluster.Open(ctx, cluster.Config{
		NodeID:    id,
		DataDir:   n.dir,
		BindAddr:  "127.0.0.1:0",
		Bootstrap: len(join) == 0,
		APIAddr:   n.internalURL,
		Join:      join,
		TLS:       tc,
		Logger:    log.With("bench_node", id),
	})
	if err != nil {
		return nil, fmt.Errorf("open node %s: %w", id, err)
	}
	raftNode := n.raft
	h, err := api.New(api.Config{Logger: log.With("bench_node", id), PublicURL: "http://sho.test"}, api.Deps{
		Store:   n.store,
		Creator: n.creates,
		Keys:    controlplane.NodeKeys(raftNode),
		Issuer:  raftNode,
		Cluster: raftNode,
		Ready:   func(context.Context) error { return raftNode.Ready() },
	})
	if err != nil {
		return nil, err
	}
	var pub, internal http.Handler = h, api.NewInternal(raftNode, log.With("bench_node", id))
	n.handler.Store(&pub)
	n.internal.Store(&internal)
	return n, nil
}

// close stops the API, then the node (giving its lease back), then the
// batcher (finishing what it holds) and the store.
func (n *node) close() error {
	n.handler.Store(nil)
	n.internal.Store(nil)
	var errs []error
	if n.srv != nil {
		errs = append(errs, n.srv.Close())
	}
	if n.intSrv != nil {
		errs = append(errs, n.intSrv.Close())
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Close())
	}
	if n.creates != nil {
		n.creates.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
	if n.dir != "" {
		errs = append(errs, os.RemoveAll(n.dir))
	}
	return errors.Join(errs...)
}

// counting counts the multi-row inserts a batcher sends, and their links.
type counting struct {
	batch.Inserter
	calls, links atomic.Int64
}

func (c *counting) CreateMany(ctx context.Context, ls []linkstore.Link) []error {
	c.calls.Add(1)
	c.links.Add(int64(len(ls)))
	return c.Inserter.CreateMany(ctx, ls)
}

// inserts is the number of inserts the cluster's batchers sent so far.
func (c *benchCluster) inserts() (n int64) {
	for _, nd := range c.nodes {
		n += nd.inserts.calls.Load()
	}
	return n
}

// benchCluster is size nodes on one database, with a creator key that
// every node knows.
type benchCluster struct {
	nodes []*node
	key   string
}

// startCluster starts size nodes on dsn: the first bootstraps, the others
// join through its API. It returns once every node knows the creator key
// and is ready to create.
func startCluster(dsn string, size int, log *slog.Logger) (_ *benchCluster, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &benchCluster{}
	defer func() {
		if err != nil {
			_ = c.close()
		}
	}()
	for i := range size {
		var join []string
		if i > 0 {
			join = []string{c.nodes[0].internalURL}
		}
		n, err := openNode(ctx, fmt.Sprintf("n%d", i+1), dsn, join, log)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}

	key, err := apikey.New()
	if err != nil {
		return nil, err
	}
	entry := fsm.KeyEntry{ID: key.ID, Name: "bench", Role: string(apikey.Creator), Hash: key.Hash[:], CreatedMs: time.Now().UnixMilli()}
	// The first key of an empty ring: any member may seed it, whichever
	// node leads by now.
	if err := c.nodes[0].raft.AddAPIKey(ctx, entry, true); err != nil {
		return nil, err
	}
	c.key = key.Secret
	err = poll(ctx, "every node to know the key and be ready", func() bool {
		for _, n := range c.nodes {
			if _, ok := n.raft.APIKey(key.ID); !ok || n.raft.Ready() != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// close closes the nodes at once, so that each gives its lease back while
// the others still make a quorum.
func (c *benchCluster) close() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.close() })
	}
	wg.Wait()
	c.nodes = nil
	return errors.Join(errs...)
}

// poll checks cond every few milliseconds until it holds or ctx ends.
func poll(ctx context.Context, what string, cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
