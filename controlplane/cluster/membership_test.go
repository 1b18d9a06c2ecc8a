package cluster_test

import (
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// Members join and leave through the REST API of any node; refused
// requests change nothing.
func TestJoinAndRemoveThroughTheAPI(t *testing.T) {
	c := newCluster(t, 2, nil) // n2 joined through n1's API at Open
	l := leader(t, 10*time.Second, c.nodes...)
	f := others(c.nodes, l)[0]

	checkInfo(t, f, l, c.nodes)

	// n3 starts with neither bootstrap nor join: it waits until an
	// operator adds it, here through the follower, which forwards to the
	// leader.
	cfg, gate, clk := nodeConfig(t, "n3")
	cfg.BindAddr = testenv.FreeAddr(t)
	n3 := prepareNode(t, cfg, gate, clk)
	opened := make(chan error, 1)
	go func() { opened <- n3.tryOpen() }()
	eventually(t, 10*time.Second, "n3's Raft transport to listen", func() bool {
		conn, err := net.Dial("tcp", cfg.BindAddr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	join := map[string]string{"node_id": "n3", "raft_addr": cfg.BindAddr, "api_addr": n3.URL()}
	status, body := do(t, "POST", f.URL()+cluster.JoinPath, join, nil)
	if status != http.StatusOK {
		t.Fatalf("join n3: %d %s", status, body)
	}
	var after cluster.Info
	if err := json.Unmarshal(body, &after); err != nil || len(after.Nodes) != 3 || after.NodeID != l.cfg.NodeID {
		t.Fatalf("join answered %s (%v): want the leader's view with 3 members", body, err)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	all := append(c.nodes, n3)
	leader(t, 10*time.Second, all...)
	(&tcluster{t: t, nodes: all}).waitVoters(t, 3) // n3 joined as a non-voter
	checkInfo(t, n3, l, all)
	if _, err := n3.node.NextCode(); err != nil {
		t.Fatalf("n3 issues no code: %v", err)
	}

	// Joining again with the same addresses changes nothing.
	if status, body := do(t, "POST", n3.URL()+cluster.JoinPath, join, nil); status != http.StatusOK {
		t.Fatalf("join n3 again: %d %s", status, body)
	}

	// Refused requests, sent to a follower, change nothing.
	members := func() []cluster.Member { return getInfo(t, l).Nodes }
	before := members()
	tests := []struct {
		name, method, path string
		body               any
		header             map[string]string
		status             int
		detail             string
	}{
		{"empty body", "POST", cluster.JoinPath, "", nil, 400, "empty"},
		{"unknown field", "POST", cluster.JoinPath, `{"node_id":"x","colour":"red"}`, nil, 400, "colour"},
		{"no node ID", "POST", cluster.JoinPath, map[string]string{"raft_addr": "127.0.0.1:1", "api_addr": "https://127.0.0.1:1"}, nil, 400, "node ID is required"},
		{"bad node ID", "POST", cluster.JoinPath, map[string]string{"node_id": "a b", "raft_addr": "127.0.0.1:1", "api_addr": "https://127.0.0.1:1"}, nil, 400, "spaces"},
		{"no Raft address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "api_addr": "https://127.0.0.1:1"}, nil, 400, "raft_addr is required"},
		{"bad Raft address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "raft_addr": "nohost", "api_addr": "https://127.0.0.1:1"}, nil, 400, "not a host:port"},
		{"unspecified Raft address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "raft_addr": "0.0.0.0:8300", "api_addr": "https://127.0.0.1:1"}, nil, 400, "can reach"},
		{"no API address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "raft_addr": "127.0.0.1:1"}, nil, 400, "api_addr is required"},
		{"bad API address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "raft_addr": "127.0.0.1:1", "api_addr": "ftp://h"}, nil, 400, "https URL"},
		{"nobody at the Raft address", "POST", cluster.JoinPath, map[string]string{"node_id": "x", "raft_addr": testenv.FreeAddr(t), "api_addr": "https://127.0.0.1:1"}, nil, 400, "cannot reach"},
		{"member at another address", "POST", cluster.JoinPath, map[string]string{"node_id": "n3", "raft_addr": testenv.FreeAddr(t), "api_addr": n3.URL()}, nil, 409, "member already"},
		{"address of another member", "POST", cluster.JoinPath, map[string]string{"node_id": "n9", "raft_addr": n3.raftAddr, "api_addr": n3.URL()}, nil, 409, "belongs to member n3"},
		{"remove unknown", "DELETE", cluster.NodesPath + "n9", nil, nil, 404, "n9"},
		{"remove bad ID", "DELETE", cluster.NodesPath + "a%20b", nil, nil, 400, "spaces"},
		{"wrong method", "PUT", cluster.JoinPath, "{}", nil, 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, f.URL()+tt.path, tt.body, tt.header)
			wantProblem(t, status, body, tt.status, tt.detail)
			if got := members(); !reflect.DeepEqual(got, before) {
				t.Fatalf("members changed:\n got %+v\nwant %+v", got, before)
			}
		})
	}

	// n3 leaves, removed through a follower.
	via := others(all, l)
	via = slices.DeleteFunc(via, func(n *tnode) bool { return n == n3 })
	if status, body := do(t, "DELETE", via[0].URL()+cluster.NodesPath+"n3", nil, nil); status != http.StatusNoContent {
		t.Fatalf("remove n3: %d %s", status, body)
	}
	n3.stopFast()
	got := members()
	if len(got) != 2 || slices.ContainsFunc(got, func(m cluster.Member) bool { return m.ID == "n3" }) {
		t.Fatalf("after removing n3: %+v", got)
	}
	if _, ok := l.node.FSM().Node("n3"); ok {
		t.Fatal("n3 still in the node registry")
	}

	// The leader is removed through the follower; the follower, alone,
	// leads, and cannot remove itself.
	if status, body := do(t, "DELETE", f.URL()+cluster.NodesPath+l.cfg.NodeID, nil, nil); status != http.StatusNoContent {
		t.Fatalf("remove the leader: %d %s", status, body)
	}
	leader(t, 10*time.Second, f)
	status, body = do(t, "DELETE", f.URL()+cluster.NodesPath+f.cfg.NodeID, nil, nil)
	wantProblem(t, status, body, http.StatusConflict, "last voter")
	if info := getInfo(t, f); len(info.Nodes) != 1 || info.Nodes[0].ID != f.cfg.NodeID || !info.Nodes[0].Leader {
		t.Fatalf("after removing the leader: %+v", info)
	}
	if _, err := f.node.NextCode(); err != nil {
		t.Fatal(err)
	}
}

// checkInfo checks GET /api/v1/cluster as self answers it, once self has
// applied the latest leases.
func checkInfo(t *testing.T, self, l *tnode, nodes []*tnode) {
	t.Helper()
	var info cluster.Info
	var problem string
	deadline := time.Now().Add(5 * time.Second)
	for {
		info = getInfo(t, self)
		if problem = infoProblem(info, self, l, nodes); problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster info from %s: %s\n%+v", self.cfg.NodeID, problem, info)
		}
		<-time.After(5 * time.Millisecond)
	}
}

// infoProblem says what is wrong with info, or "".
func infoProblem(info cluster.Info, self, l *tnode, nodes []*tnode) string {
	if info.NodeID != self.cfg.NodeID || info.LeaderID != l.cfg.NodeID || info.LeaderAPIAddr != l.URL() ||
		info.Term == 0 || info.AppliedIndex == 0 || info.CommitIndex < info.AppliedIndex || info.LastLogIndex < info.CommitIndex ||
		info.WorkerID < 0 || info.LeaseExpires.IsZero() || len(info.Nodes) != len(nodes) {
		return "wrong summary"
	}
	for _, m := range info.Nodes {
		var n *tnode
		for _, x := range nodes {
			if x.cfg.NodeID == m.ID {
				n = x
			}
		}
		switch {
		case n == nil:
			return "unknown member " + m.ID
		case m.RaftAddr != n.raftAddr || m.APIAddr != n.URL() || m.Suffrage != "voter" || m.Leader != (m.ID == l.cfg.NodeID):
			return "wrong member " + m.ID
		case len(m.WorkerIDs) != 1:
			return "member " + m.ID + " without its one worker ID"
		case m.ID == self.cfg.NodeID && m.WorkerIDs[0] != info.WorkerID:
			return "own worker ID differs"
		}
	}
	return ""
}
