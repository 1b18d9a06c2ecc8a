package cluster

import "github.com/shortify/shortify/controlplane/fsm"

// Workspace returns the record of the workspace with the ID, from this
// node's copy of the FSM.
func (n *Node) Workspace(id int64) (fsm.Workspace, bool) { return n.fsm.Workspace(id) }

// WorkspaceByName returns the record of the workspace with the name.
func (n *Node) WorkspaceByName(name string) (fsm.Workspace, bool) { return n.fsm.WorkspaceByName(name) }

// Workspaces returns every workspace, by ascending ID.
func (n *Node) Workspaces() []fsm.Workspace { return n.fsm.Workspaces() }
