package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/fsm"
)

// Membership: joining, removing, registering, and the cluster's view.

const (
	// dialCheckTimeout bounds the leader's check that a joining node's
	// Raft address answers.
	dialCheckTimeout = 2 * time.Second
	// membershipTimeout bounds a Raft configuration change.
	membershipTimeout = 30 * time.Second
)

// JoinRequest asks the cluster to add a node (as a non-voter, promoted to
// voter once it has caught up): the body of POST /api/v1/cluster/join.
type JoinRequest struct {
	// NodeID is the new node's Raft server ID (Config.NodeID).
	NodeID string `json:"node_id"`
	// RaftAddr is its Raft address as the members reach it, host:port.
	RaftAddr string `json:"raft_addr"`
	// APIAddr is the base URL of its REST API (Config.APIAddr).
	APIAddr string `json:"api_addr"`
}

// FieldError is bad input in one field of a cluster request; it wraps
// ErrInvalidRequest.
type FieldError struct {
	// Field is the JSON name of the field at fault.
	Field string
	// Detail says what is wrong with it.
	Detail string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

// Unwrap returns ErrInvalidRequest.
func (e *FieldError) Unwrap() error { return ErrInvalidRequest }

// Validate checks the request and normalises its API address.
func (r *JoinRequest) Validate() error {
	if err := checkNodeID(r.NodeID); err != nil {
		return &FieldError{Field: "node_id", Detail: err.Error()}
	}
	host, port, err := net.SplitHostPort(r.RaftAddr)
	switch {
	case r.RaftAddr == "":
		return &FieldError{Field: "raft_addr", Detail: "raft_addr is required: the host:port of the node's Raft transport"}
	case err != nil || port == "" || len(r.RaftAddr) > fsm.MaxAddrLen:
		return &FieldError{Field: "raft_addr", Detail: fmt.Sprintf("raft_addr %q is not a host:port", r.RaftAddr)}
	case isUnspecified(host):
		return &FieldError{Field: "raft_addr", Detail: fmt.Sprintf("raft_addr %q is not an address other nodes can reach", r.RaftAddr)}
	}
	if r.APIAddr == "" {
		return &FieldError{Field: "api_addr", Detail: "api_addr is required: the base URL of the node's internal listener, such as https://10.0.0.5:8301"}
	}
	u, err := BaseURL(r.APIAddr)
	if err == nil && len(u.String()) > fsm.MaxAddrLen {
		err = fmt.Errorf("%q is longer than %d bytes", r.APIAddr, fsm.MaxAddrLen)
	}
	if err != nil {
		return &FieldError{Field: "api_addr", Detail: "api_addr " + err.Error()}
	}
	if isUnspecified(u.Hostname()) {
		return &FieldError{Field: "api_addr", Detail: fmt.Sprintf("api_addr %q is not an address other nodes can reach", r.APIAddr)}
	}
	r.APIAddr = u.String()
	return nil
}

// checkNodeID checks a node ID from a request.
func checkNodeID(id string) error {
	switch {
	case id == "":
		return errors.New("a node ID is required")
	case len(id) > maxNodeIDLen:
		return fmt.Errorf("node ID is %d bytes, at most %d allowed", len(id), maxNodeIDLen)
	case strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '/' }) >= 0:
		return fmt.Errorf("node ID %q has spaces, control characters or '/'", id)
	}
	return nil
}

// Info is a node's view of the cluster: GET /api/v1/cluster.
type Info struct {
	// NodeID is the node that answered.
	NodeID string `json:"node_id"`
	// RaftState is its Raft state: Follower, Candidate, Leader or Shutdown.
	RaftState string `json:"raft_state"`
	// LeaderID is the leader's ID, empty when there is none.
	LeaderID string `json:"leader_id"`
	// LeaderAPIAddr is the leader's API base URL, when registered.
	LeaderAPIAddr string `json:"leader_api_addr,omitempty"`
	// Term is the current Raft term.
	Term uint64 `json:"term"`
	// LastLogIndex is the last index in the node's log.
	LastLogIndex uint64 `json:"last_log_index"`
	// CommitIndex is the last index the node knows to be committed.
	CommitIndex uint64 `json:"commit_index"`
	// AppliedIndex is the last index applied to its FSM.
	AppliedIndex uint64 `json:"applied_index"`
	// CommandVersion is the Raft command language its FSM applies
	// (fsm.CommandVersion): during a rolling upgrade, what a release adds
	// to the commands may be used once every member reports that
	// release's version.
	CommandVersion int `json:"command_version"`
	// WorkerID is the node's leased Snowflake worker ID, -1 without a
	// valid lease.
	WorkerID int `json:"worker_id"`
	// LeaseExpires is when that lease ends unless renewed.
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	// Nodes are the members in the Raft configuration, by ID.
	Nodes []Member `json:"nodes"`
}

// Member is one member of the cluster.
type Member struct {
	// ID is the member's Raft server ID.
	ID string `json:"id"`
	// RaftAddr is its Raft address.
	RaftAddr string `json:"raft_addr"`
	// APIAddr is its API base URL, from the node registry (empty when it
	// has not registered one).
	APIAddr string `json:"api_addr,omitempty"`
	// Suffrage is voter, nonvoter or staging.
	Suffrage string `json:"suffrage"`
	// Leader tells whether it is the leader.
	Leader bool `json:"leader"`
	// WorkerIDs are the worker IDs it holds unexpired leases on (as the
	// answering node's clock goes).
	WorkerIDs []int `json:"worker_ids"`
}

// Info returns this node's view of the cluster. It never blocks on Raft.
func (n *Node) Info() Info {
	st := n.State()
	info := Info{
		NodeID:         st.NodeID,
		RaftState:      st.RaftState,
		LeaderID:       st.LeaderID,
		Term:           st.Term,
		LastLogIndex:   n.raft.LastIndex(),
		CommitIndex:    n.raft.CommitIndex(),
		AppliedIndex:   st.AppliedIndex,
		CommandVersion: fsm.CommandVersion,
		WorkerID:       st.WorkerID,
		LeaseExpires:   st.LeaseExpires,
		Nodes:          []Member{},
	}
	if l, ok := n.fsm.Node(st.LeaderID); ok {
		info.LeaderAPIAddr = l.APIAddr
	}
	workers := map[string][]int{}
	now := n.nowMs()
	for _, w := range n.fsm.State().Workers {
		if w.Held && w.ExpiresMs >= now {
			workers[w.Holder] = append(workers[w.Holder], int(w.ID))
		}
	}
	var servers []raft.Server
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		servers = f.Configuration().Servers
	}
	for _, s := range servers {
		m := Member{
			ID:        string(s.ID),
			RaftAddr:  string(s.Address),
			Suffrage:  strings.ToLower(s.Suffrage.String()),
			Leader:    string(s.ID) == st.LeaderID,
			WorkerIDs: workers[string(s.ID)],
		}
		if m.WorkerIDs == nil {
			m.WorkerIDs = []int{}
		}
		if r, ok := n.fsm.Node(m.ID); ok {
			m.APIAddr = r.APIAddr
		}
		info.Nodes = append(info.Nodes, m)
	}
	slices.SortFunc(info.Nodes, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return info
}

// Join adds a node to the cluster as a non-voter, on the leader, which
// promotes it to voter once it has caught up with the log (see
// promoteLoop): a node that is slow to catch up, or never reaches the
// others, never counts toward the quorum meanwhile. With forward
// true a follower sends the request to the leader's API; with forward
// false (a request forwarded already) it returns ErrNotLeader. Joining
// again with the same ID and Raft address changes nothing but the API
// address. It returns the leader's view of the cluster afterwards, or an
// error wrapping ErrInvalidRequest (a *FieldError), ErrConflict,
// ErrNotLeader, ErrNoLeader or ErrLeaderUnreachable.
func (n *Node) Join(ctx context.Context, req JoinRequest, forward bool) (Info, error) {
	if err := req.Validate(); err != nil {
		return Info{}, fmt.Errorf("join %s: %w", req.NodeID, err)
	}
	var info Info
	err := n.leaderDo(ctx, "join "+req.NodeID, forward,
		func(ctx context.Context) error {
			if err := n.addMember(ctx, req); err != nil {
				return err
			}
			info = n.Info()
			return nil
		},
		func(ctx context.Context, leader fsm.NodeInfo) error {
			body, err := json.Marshal(req)
			if err != nil {
				return err
			}
			out, err := n.call(ctx, leader, http.MethodPost, JoinPath, body, true)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(out, &info); err != nil {
				return fmt.Errorf("leader %s answered the join with %w", leader.ID, err)
			}
			return nil
		})
	return info, err
}

// addMember is Join on the leader.
func (n *Node) addMember(ctx context.Context, req JoinRequest) error {
	if n.stream == nil || n.cfg.APIAddr == "" {
		return fmt.Errorf("%w: the leader %s has no cluster TLS or no API address (api_addr), so it cannot take members",
			ErrConflict, n.cfg.NodeID)
	}
	servers, err := n.servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		switch {
		case string(s.ID) == req.NodeID && string(s.Address) == req.RaftAddr:
			// A member already (a retried join): only the registry may
			// need the new API address.
			return n.registerNode(ctx, fsm.NodeInfo{ID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr})
		case string(s.ID) == req.NodeID:
			return fmt.Errorf("%w: node %s is a member already at Raft address %s; remove it first to move it to %s",
				ErrConflict, s.ID, s.Address, req.RaftAddr)
		case string(s.Address) == req.RaftAddr:
			return fmt.Errorf("%w: Raft address %s belongs to member %s", ErrConflict, req.RaftAddr, s.ID)
		}
	}
	// A typo in the address would leave the cluster waiting for a voter
	// that never answers: check that a member (a certificate of the
	// cluster CA for that name) listens there first.
	conn, err := n.stream.Dial(raft.ServerAddress(req.RaftAddr), min(timeoutFrom(ctx, dialCheckTimeout), dialCheckTimeout))
	if err != nil {
		return &FieldError{Field: "raft_addr", Detail: fmt.Sprintf("the leader cannot reach raft_addr %s: %v", req.RaftAddr, err)}
	}
	conn.Close()

	f := n.raft.AddNonvoter(raft.ServerID(req.NodeID), raft.ServerAddress(req.RaftAddr), 0, timeoutFrom(ctx, membershipTimeout))
	if err := n.wait(ctx, f); err != nil {
		return fmt.Errorf("add non-voter %s at %s: %w", req.NodeID, req.RaftAddr, err)
	}
	n.log.Info("added a non-voter; it becomes a voter once caught up", "member", req.NodeID, "raft_addr", req.RaftAddr, "api_addr", req.APIAddr)
	return n.registerNode(ctx, fsm.NodeInfo{ID: req.NodeID, RaftAddr: req.RaftAddr, APIAddr: req.APIAddr})
}

// Remove takes a node out of the cluster, on the leader (forwarding as
// Join does), and drops it from the node registry. The last voter cannot
// be removed. It returns an error wrapping ErrInvalidRequest,
// ErrUnknownMember, ErrConflict, ErrNotLeader, ErrNoLeader or
// ErrLeaderUnreachable.
func (n *Node) Remove(ctx context.Context, id string, forward bool) error {
	if err := checkNodeID(id); err != nil {
		return fmt.Errorf("remove %q: %w", id, &FieldError{Field: "id", Detail: err.Error()})
	}
	return n.leaderDo(ctx, "remove "+id, forward,
		func(ctx context.Context) error { return n.removeServer(ctx, id) },
		func(ctx context.Context, leader fsm.NodeInfo) error {
			_, err := n.call(ctx, leader, http.MethodDelete, NodesPath+url.PathEscape(id), nil, true)
			return err
		})
}

// removeServer is Remove on the leader.
func (n *Node) removeServer(ctx context.Context, id string) error {
	servers, err := n.servers()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(servers, func(s raft.Server) bool { return string(s.ID) == id })
	if i < 0 {
		if _, ok := n.fsm.Node(id); ok {
			// Left the configuration earlier; finish the job.
			return n.deregisterNode(ctx, id)
		}
		return fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if servers[i].Suffrage == raft.Voter && voters == 1 {
		return fmt.Errorf("%w: %s is the last voter; a cluster cannot remove its last voter", ErrConflict, id)
	}
	// Deregister first: once this leader has removed itself it can no
	// longer write.
	if err := n.deregisterNode(ctx, id); err != nil {
		return err
	}
	f := n.raft.RemoveServer(raft.ServerID(id), 0, timeoutFrom(ctx, membershipTimeout))
	if err := n.wait(ctx, f); err != nil {
		return fmt.Errorf("remove server %s: %w", id, err)
	}
	n.log.Info("removed a member", "member", id)
	return nil
}

// servers returns the latest Raft configuration.
func (n *Node) servers() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read the Raft configuration: %w", err)
	}
	return f.Configuration().Servers, nil
}

// registerNode writes a registry entry unless it is there already.
func (n *Node) registerNode(ctx context.Context, info fsm.NodeInfo) error {
	if got, ok := n.fsm.Node(info.ID); ok && got == info {
		return nil
	}
	resp, err := n.propose(ctx, fsm.RegisterNode(info))
	if err == nil {
		err = resp.(*fsm.NodeResult).Err
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", info.ID, err)
	}
	return nil
}

// deregisterNode drops a registry entry; one that is not there is fine.
func (n *Node) deregisterNode(ctx context.Context, id string) error {
	resp, err := n.propose(ctx, fsm.DeregisterNode{ID: id})
	if err == nil {
		if err = resp.(*fsm.NodeResult).Err; errors.Is(err, fsm.ErrUnknownNode) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("deregister node %s: %w", id, err)
	}
	return nil
}

// self is this node's registry entry as it should be.
func (n *Node) self() fsm.NodeInfo {
	return fsm.NodeInfo{ID: n.cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()), APIAddr: n.cfg.APIAddr}
}

// register makes sure the registry has this node's current addresses.
func (n *Node) register(ctx context.Context) error {
	return n.registerNode(ctx, n.self())
}

// join asks the members at Config.Join, in turn, to add this node, until
// one does or ctx ends. Refusals (bad request, conflict, forbidden) end
// it at once.
func (n *Node) join(ctx context.Context) error {
	req := JoinRequest{NodeID: n.cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()), APIAddr: n.cfg.APIAddr}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	backoff := retryMin
	t := time.NewTimer(0)
	defer t.Stop()
	last := errors.New("no answer yet")
	for {
		for _, addr := range n.cfg.Join {
			select {
			case <-ctx.Done():
				return fmt.Errorf("join the cluster through %s: %w (last error: %w)", strings.Join(n.cfg.Join, ", "), context.Cause(ctx), last)
			case <-t.C:
			}
			// Not marked forwarded: the member that answers passes the
			// request on to the leader.
			_, err := n.call(ctx, fsm.NodeInfo{ID: addr, APIAddr: addr}, http.MethodPost, JoinPath, body, false)
			if err == nil {
				n.log.Info("joined the cluster", "through", addr)
				return nil
			}
			if !retryable(err) {
				return fmt.Errorf("join the cluster through %s: %w", addr, err)
			}
			last = err
			n.log.Debug("join attempt failed; retrying", "through", addr, "error", err)
			t.Reset(backoff)
			backoff = min(backoff*2, retryMax*4)
		}
	}
}
