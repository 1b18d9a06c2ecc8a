package cluster_test

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestAdvertiseHostName runs a 3-node cluster whose nodes advertise
// "localhost:PORT": the Raft configuration keeps the names (so a node
// that comes back on another IP under the same name is still reached),
// joining works through them, and so does electing a new leader after the
// first one dies.
func TestAdvertiseHostName(t *testing.T) {
	want := map[string]string{} // node ID → advertised address
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		bind := testenv.FreeAddr(t)
		_, port, err := net.SplitHostPort(bind)
		if err != nil {
			t.Fatal(err)
		}
		cfg.BindAddr = bind
		cfg.AdvertiseAddr = "localhost:" + port
		want[cfg.NodeID] = cfg.AdvertiseAddr
	})

	for _, n := range c.nodes {
		if got := n.node.State().Address; got != want[n.cfg.NodeID] {
			t.Errorf("%s: State().Address %q, want %q", n.cfg.NodeID, got, want[n.cfg.NodeID])
		}
	}
	checkConfig := func(n *tnode, ids ...string) {
		t.Helper()
		// A follower learns of the promotions a moment after the leader.
		var servers []raft.Server
		eventually(t, 10*time.Second, n.cfg.NodeID+"'s configuration of voters only", func() bool {
			f := n.node.Raft().GetConfiguration()
			if f.Error() != nil {
				return false
			}
			servers = f.Configuration().Servers
			return !slices.ContainsFunc(servers, func(s raft.Server) bool { return s.Suffrage != raft.Voter })
		})
		var got []string
		for _, s := range servers {
			got = append(got, string(s.ID))
			if string(s.Address) != want[string(s.ID)] || s.Suffrage != raft.Voter {
				t.Errorf("%s: member %s at %q (%v), want a voter at %q", n.cfg.NodeID, s.ID, s.Address, s.Suffrage, want[string(s.ID)])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			t.Errorf("%s: members %v, want %v", n.cfg.NodeID, got, ids)
		}
	}
	for _, n := range c.nodes {
		checkConfig(n, "n1", "n2", "n3")
	}
	for _, m := range getInfo(t, c.nodes[1]).Nodes {
		if m.RaftAddr != want[m.ID] {
			t.Errorf("GET cluster: %s at %q, want %q", m.ID, m.RaftAddr, want[m.ID])
		}
	}

	// The first leader dies; the other two elect one of themselves over
	// the names, and it commits.
	old := leader(t, 10*time.Second, c.nodes...)
	old.kill()
	rest := others(c.nodes, old)
	l := leader(t, 15*time.Second, rest...)
	if err := l.node.Raft().Barrier(10 * time.Second).Error(); err != nil {
		t.Fatalf("barrier on the new leader %s: %v", l.cfg.NodeID, err)
	}
	for _, n := range rest {
		if _, err := n.node.NewID(); err != nil {
			t.Errorf("%s: NewID after failover: %v", n.cfg.NodeID, err)
		}
	}
	checkConfig(l, "n1", "n2", "n3")
}

// TestAdvertiseHostNameNewAddress: a node that comes back on another IP
// under the same name, as a Kubernetes pod or a compose service does, is
// still a member: the others reach it through the name (DNS here is a map
// the test changes), it catches up, and it votes in the next election.
func TestAdvertiseHostNameNewAddress(t *testing.T) {
	var mu sync.Mutex
	dns := map[string]string{} // advertised name:port → where the node listens now
	resolve := func(hostport string) string {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := dns[hostport]; ok {
			return a
		}
		return hostport
	}
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		name := cfg.NodeID + ".raft.test:8300"
		// The name is what peers dial, so what they check the
		// certificate against.
		cfg.TLS = testTLS(t, cfg.NodeID, cfg.NodeID+".raft.test")
		cfg.BindAddr = testenv.FreeAddr(t)
		cfg.AdvertiseAddr = name
		mu.Lock()
		dns[name] = cfg.BindAddr
		mu.Unlock()
		cluster.WithResolver(cfg, resolve)
	})
	l := leader(t, 10*time.Second, c.nodes...)
	n := others(c.nodes, l)[0]

	// n dies and comes back on another IP, same name, same data.
	n.kill()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	newBind := ln.Addr().String()
	ln.Close()
	mu.Lock()
	dns[n.cfg.AdvertiseAddr] = newBind
	mu.Unlock()
	api, err := net.Listen("tcp", n.apiAddr)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := net.Listen("tcp", n.publicAddr)
	if err != nil {
		t.Fatal(err)
	}
	n.serve(api, pub)
	n.cfg.BindAddr = newBind
	n.open(t)
	if got := n.node.State().Address; got != n.cfg.AdvertiseAddr {
		t.Fatalf("restarted node's address %q, want its name %q", got, n.cfg.AdvertiseAddr)
	}

	// The leader replicates to it at the new address.
	if err := l.node.Raft().Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	want := l.node.Raft().LastIndex()
	eventually(t, 10*time.Second, "the restarted node to catch up", func() bool {
		return n.node.Raft().AppliedIndex() >= want
	})

	// With the leader gone, n's vote is needed for a quorum of the rest.
	l.kill()
	rest := others(c.nodes, l)
	nl := leader(t, 15*time.Second, rest...)
	if err := nl.node.Raft().Barrier(10 * time.Second).Error(); err != nil {
		t.Fatalf("barrier on the new leader %s: %v", nl.cfg.NodeID, err)
	}
	f := nl.node.Raft().GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == n.cfg.NodeID && (string(s.Address) != n.cfg.AdvertiseAddr || s.Suffrage != raft.Voter) {
			t.Errorf("%s is a member at %q (%v), want a voter at its name", s.ID, s.Address, s.Suffrage)
		}
	}
}
