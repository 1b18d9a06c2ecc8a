package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shortify/shortify/controlplane/clustertls"
)

// startControlPlane starts three control-plane nodes from
// controlplane.Caddyfile: node1 bootstraps the cluster, node2 and node3
// join it through the others' internal listeners (the cluster/<node
// ID>.caddy snippets the Caddyfile imports, written beside a copy of it).
// The nodes talk mutual TLS with certificates of a cluster CA made in the
// stack's directory (clusterTLS). It returns once every node is ready and
// sees three members.
func (s *Stack) startControlPlane(ctx context.Context) error {
	p := s.cfg.Ports
	dir := filepath.Join(s.cfg.Dir, "caddyfiles")
	if err := os.MkdirAll(filepath.Join(dir, "cluster"), 0o755); err != nil {
		return err
	}
	conf, err := s.copyRole(dir, "controlplane")
	if err != nil {
		return err
	}
	tlsFiles, err := s.clusterTLS()
	if err != nil {
		return err
	}
	feed, err := s.threatFeed()
	if err != nil {
		return err
	}
	apis, internal := make([]string, 3), make([]string, 3)
	for i := range apis {
		apis[i] = "http://" + hostPort(host, p.NodeAPI[i])
		internal[i] = "https://" + hostPort(host, p.NodeCluster[i])
	}
	for i := range 3 {
		id := "node" + strconv.Itoa(i+1)
		snippet := "# " + id + " starts the cluster.\nbootstrap true\n"
		if i > 0 {
			var others []string
			for j, a := range internal {
				if j != i {
					others = append(others, a)
				}
			}
			snippet = "# " + id + " joins through the other nodes.\njoin " + strings.Join(others, " ") + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "cluster", id+".caddy"), []byte(snippet), 0o644); err != nil {
			return err
		}
		raft := hostPort(host, p.NodeRaft[i])
		n := &Node{
			Name: id, URL: apis[i], Ops: "http://" + hostPort(host, p.NodeOps[i]),
			Dir: filepath.Join(s.cfg.Dir, id), config: conf, bin: s.cfg.Binary,
		}
		n.env = append(s.roleEnv(host, p.NodeAdmin[i], p.NodeAPI[i], p.NodeOps[i]),
			"SHORTIFY_NODE_ID="+id,
			"SHORTIFY_API_ADDR="+internal[i],
			"SHORTIFY_RAFT_BIND="+raft,
			"SHORTIFY_RAFT_ADVERTISE="+raft,
			"SHORTIFY_CLUSTER_LISTEN="+hostPort(host, p.NodeCluster[i]),
			"SHORTIFY_CLUSTER_CA="+tlsFiles[i].CA,
			"SHORTIFY_CLUSTER_CERT="+tlsFiles[i].Cert,
			"SHORTIFY_CLUSTER_KEY="+tlsFiles[i].Key,
			"SHORTIFY_DATA_DIR="+filepath.Join(s.cfg.Dir, id, "data"),
			"SHORTIFY_PUBLIC_URL=http://"+hostPort(host, p.FrontDoor),
			"SHORTIFY_INITIAL_API_KEY="+s.APIKey,
			"SHORTIFY_THREAT_FEED=local plain "+feed,
		)
		n.env = append(n.env, s.kafka.roleEnv("controlplane")...)
		n.env = append(n.env, s.cfg.Env...)
		s.Nodes = append(s.Nodes, n)
	}
	// The first node alone, so that it has bootstrapped (and migrated the
	// link database) before the others ask to join.
	if err := s.startNodes(ctx, s.Nodes[:1], "/api/v1/readyz"); err != nil {
		return err
	}
	if err := s.startNodes(ctx, s.Nodes[1:], "/api/v1/readyz"); err != nil {
		return err
	}
	for _, n := range s.Nodes {
		if err := waitPoll(ctx, n, "three control-plane members", func(ctx context.Context) error {
			info, err := s.ClusterInfo(ctx, n)
			if err == nil && len(info.Nodes) != 3 {
				err = fmt.Errorf("%d members", len(info.Nodes))
			}
			return err
		}); err != nil {
			return err
		}
	}
	s.logf("control plane: %s, %s, %s", apis[0], apis[1], apis[2])
	return nil
}

// startEdgesAndStats starts the two edges (edge.Caddyfile, each on a
// loopback address of its own, see Ports) and the two stats instances
// (stats.Caddyfile, one consumer group).
func (s *Stack) startEdgesAndStats(ctx context.Context) error {
	p := s.cfg.Ports
	dir := filepath.Join(s.cfg.Dir, "caddyfiles")
	edgeConf, err := s.copyRole(dir, "edge")
	if err != nil {
		return err
	}
	statsConf, err := s.copyRole(dir, "stats")
	if err != nil {
		return err
	}
	visitorKey := randomHex(16)
	for i, h := range edgeHosts {
		n := &Node{
			Name: "edge" + strconv.Itoa(i+1), URL: "http://" + hostPort(h, p.Edge), Ops: "http://" + hostPort(h, p.EdgeOps),
			config: edgeConf, bin: s.cfg.Binary,
		}
		n.Dir = filepath.Join(s.cfg.Dir, n.Name)
		n.env = append(s.roleEnv(h, p.EdgeAdmin, p.Edge, p.EdgeOps),
			"SHORTIFY_READ_REPLICAS="+s.Replica.DSN(LinkDatabase),
			"SHORTIFY_VISITOR_KEY="+visitorKey,
			"SHORTIFY_HOSTS="+ownHosts())
		n.env = append(n.env, s.kafka.roleEnv("edge")...)
		n.env = append(n.env, s.cfg.Env...)
		s.Edges = append(s.Edges, n)
	}
	for i := range 2 {
		n := &Node{
			Name: "stats" + strconv.Itoa(i+1), Ops: "http://" + hostPort(host, p.StatsOps[i]),
			config: statsConf, bin: s.cfg.Binary,
		}
		n.Dir = filepath.Join(s.cfg.Dir, n.Name)
		n.env = append(s.roleEnv(host, p.StatsAdmin[i], 0, p.StatsOps[i]),
			"SHORTIFY_STATS_SESSION_TIMEOUT="+StatsSessionTimeout.String())
		n.env = append(n.env, s.kafka.roleEnv("stats")...)
		n.env = append(n.env, s.cfg.Env...)
		s.Stats = append(s.Stats, n)
	}
	if err := s.startNodes(ctx, append(append([]*Node(nil), s.Edges...), s.Stats...), ""); err != nil {
		return err
	}
	s.logf("edges: %s, %s; stats: %s, %s", s.Edges[0].URL, s.Edges[1].URL, s.Stats[0].Ops, s.Stats[1].Ops)
	return nil
}

// startFrontDoor starts the load balancer (frontdoor.Caddyfile) over the
// edges and the control-plane nodes.
func (s *Stack) startFrontDoor(ctx context.Context) error {
	p := s.cfg.Ports
	conf, err := s.copyRole(filepath.Join(s.cfg.Dir, "caddyfiles"), "frontdoor")
	if err != nil {
		return err
	}
	var edges, nodes []string
	for _, h := range edgeHosts {
		edges = append(edges, hostPort(h, p.Edge))
	}
	for _, port := range p.NodeAPI {
		nodes = append(nodes, hostPort(host, port))
	}
	n := &Node{
		Name: "frontdoor", URL: "http://" + hostPort(host, p.FrontDoor), Ops: "http://" + hostPort(host, p.FrontDoorOps),
		Dir: filepath.Join(s.cfg.Dir, "frontdoor"), config: conf, bin: s.cfg.Binary,
		env: []string{
			"SHORTIFY_ADMIN=" + hostPort(host, p.FrontDoorAdmin),
			"SHORTIFY_BIND=" + host,
			"SHORTIFY_PORT=" + strconv.Itoa(p.FrontDoor),
			"SHORTIFY_OPS_PORT=" + strconv.Itoa(p.FrontDoorOps),
			"SHORTIFY_EDGE_OPS_PORT=" + strconv.Itoa(p.EdgeOps),
			"SHORTIFY_EDGE_UPSTREAMS=" + strings.Join(edges, " "),
			"SHORTIFY_CONTROL_PLANE_UPSTREAMS=" + strings.Join(nodes, " "),
		},
	}
	s.FrontDoor = n
	if err := s.startNodes(ctx, []*Node{n}, ""); err != nil {
		return err
	}
	// Through to a control-plane node, so the proxy works too.
	if err := n.waitHTTP(ctx, n.URL+"/api/v1/readyz"); err != nil {
		return err
	}
	s.logf("front door: %s", n.URL)
	return nil
}

// clusterTLS makes the control plane's cluster CA and a certificate for
// each node (for 127.0.0.1 and localhost, where the others dial it) in
// the stack's directory, cluster-tls/, as `shortify cluster-ca` and
// `shortify cluster-cert` would; the CA key stays there, on no node.
func (s *Stack) clusterTLS() ([]clustertls.Files, error) {
	dir := filepath.Join(s.cfg.Dir, "cluster-tls")
	ca, err := clustertls.NewCA("shortify stack cluster CA", 0)
	if err != nil {
		return nil, err
	}
	if err := ca.WriteCA(dir); err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	files := make([]clustertls.Files, 3)
	for i := range files {
		name := "node" + strconv.Itoa(i+1)
		if err := ca.WriteCert(dir, name, []string{host, "localhost"}, 0); err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", name, err)
		}
		files[i] = clustertls.Files{
			CA:   filepath.Join(dir, clustertls.CACertFile),
			Cert: filepath.Join(dir, clustertls.CertFile(name)),
			Key:  filepath.Join(dir, clustertls.KeyFile(name)),
		}
	}
	return files, nil
}

// copyRole copies deploy/caddyfiles/<role>.Caddyfile into dir unchanged
// (controlplane.Caddyfile imports cluster/ beside itself).
func (s *Stack) copyRole(dir, role string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Caddyfiles, role+".Caddyfile"))
	if err != nil {
		return "", fmt.Errorf("role Caddyfile: %w", err)
	}
	dst := filepath.Join(dir, role+".Caddyfile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, b, 0o644)
}

// startNodes starts nodes side by side and waits until each answers 200
// on its ops /healthz, and on its URL+path when path is not empty.
func (s *Stack) startNodes(ctx context.Context, nodes []*Node, path string) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			if err := n.start(); err != nil {
				errs[i] = err
				return
			}
			if err := n.waitHTTP(ctx, n.Ops+"/healthz"); err != nil {
				errs[i] = err
				return
			}
			if path != "" {
				errs[i] = n.waitHTTP(ctx, n.URL+path)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ClusterInfo is what GET /api/v1/cluster answers (the fields the stack
// reads).
type ClusterInfo struct {
	NodeID   string `json:"node_id"`
	LeaderID string `json:"leader_id"`
	Nodes    []struct {
		ID string `json:"id"`
	} `json:"nodes"`
}

// ClusterInfo asks node n for its view of the cluster.
func (s *Stack) ClusterInfo(ctx context.Context, n *Node) (ClusterInfo, error) {
	var info ClusterInfo
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/api/v1/cluster", nil)
	if err != nil {
		return info, err
	}
	req.Header.Set("X-Api-Key", s.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("GET %s/api/v1/cluster: %s", n.URL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("GET %s/api/v1/cluster: %w", n.URL, err)
	}
	return info, nil
}

// Leader returns the control-plane node that the running nodes agree
// leads the cluster, waiting (until ctx ends) for them to agree.
func (s *Stack) Leader(ctx context.Context) (*Node, error) {
	var leader *Node
	err := pollCtx(ctx, "an agreed Raft leader", func(ctx context.Context) error {
		leader = nil
		id := ""
		for _, n := range s.Nodes {
			if !n.Running() {
				continue
			}
			info, err := s.ClusterInfo(ctx, n)
			if err != nil {
				return err
			}
			if info.LeaderID == "" || (id != "" && info.LeaderID != id) {
				return fmt.Errorf("%s sees leader %q", n.Name, info.LeaderID)
			}
			id = info.LeaderID
		}
		for _, n := range s.Nodes {
			if n.Name == id && n.Running() {
				leader = n
				return nil
			}
		}
		return fmt.Errorf("leader %q is not a running node", id)
	})
	return leader, err
}

// dial fails unless addr accepts a TCP connection.
func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// ThreatFeedDomain is on the stack's local threat feed: its links are
// refused, as a feed's would be in production.
const ThreatFeedDomain = "malware.stack.example"

// threatFeed writes the control plane's local threat feed (a plain list,
// SHORTIFY_THREAT_FEED) into the stack's directory, unless it exists (an
// operator may have edited it), and returns its path.
func (s *Stack) threatFeed() (string, error) {
	path := filepath.Join(s.cfg.Dir, "threat-feed.txt")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	body := "# The stack's threat feed (plain list: domains or URLs, one a line).\n" +
		"# The control plane's leader rereads it every threat_feed_refresh.\n" + ThreatFeedDomain + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return "", fmt.Errorf("stack: write the threat feed: %w", err)
	}
	return path, nil
}
