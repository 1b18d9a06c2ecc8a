package fsm

import (
	"cmp"
	"fmt"
	"slices"
)

// The node registry.
//
// Raft's own configuration knows each member's ID and Raft address; the
// registry adds the base URL of the member's REST API, which a follower
// needs to forward a write to the leader. The leader registers itself when
// it starts and registers a member when it adds it; each node checks its
// own entry when it starts and re-registers when its addresses changed.

// NodeInfo is one entry of the node registry.
type NodeInfo struct {
	// ID is the member's Raft server ID.
	ID string `json:"id"`
	// RaftAddr is the member's Raft transport address.
	RaftAddr string `json:"raft_addr"`
	// APIAddr is the base URL of the member's REST API; empty when it has
	// none.
	APIAddr string `json:"api_addr,omitempty"`
}

// check reports what makes n unacceptable, as an ErrInvalidCommand.
func (n NodeInfo) check() error {
	switch {
	case n.ID == "" || len(n.ID) > MaxNodeIDLen:
		return fmt.Errorf("%w: node ID of %d bytes, want 1..%d", ErrInvalidCommand, len(n.ID), MaxNodeIDLen)
	case n.RaftAddr == "" || len(n.RaftAddr) > MaxAddrLen:
		return fmt.Errorf("%w: Raft address of %d bytes, want 1..%d", ErrInvalidCommand, len(n.RaftAddr), MaxAddrLen)
	case len(n.APIAddr) > MaxAddrLen:
		return fmt.Errorf("%w: API address of %d bytes, want at most %d", ErrInvalidCommand, len(n.APIAddr), MaxAddrLen)
	}
	return nil
}

func (s *state) registerNode(c *RegisterNode) any {
	n := NodeInfo(*c)
	if err := n.check(); err != nil {
		return &NodeResult{Err: err}
	}
	if s.nodes == nil {
		s.nodes = make(map[string]NodeInfo)
	}
	s.nodes[n.ID] = n
	return &NodeResult{}
}

func (s *state) deregisterNode(c *DeregisterNode) any {
	if _, ok := s.nodes[c.ID]; !ok {
		return &NodeResult{Err: fmt.Errorf("%w: %q", ErrUnknownNode, c.ID)}
	}
	delete(s.nodes, c.ID)
	return &NodeResult{}
}

// sortedNodes returns the registry ordered by ID.
func (s *state) sortedNodes() []NodeInfo {
	if len(s.nodes) == 0 {
		return nil
	}
	out := make([]NodeInfo, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Node returns the registry entry of a member, and whether there is one.
func (f *FSM) Node(id string) (NodeInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.s.nodes[id]
	return n, ok
}

// Nodes returns the node registry ordered by ID.
func (f *FSM) Nodes() []NodeInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.sortedNodes()
}
