package cluster

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/controlplane/fsm"
)

// The workspace registry through Raft. Reads come from this node's copy of
// the FSM (every request resolves its workspace); writes are proposed, and
// a follower forwards them to the leader as instance admin commands (the
// caller's key goes along, see WithCallerKey) and returns once it has
// applied them too (awaitLocal).

// Workspace returns the record of the workspace with the ID, from this
// node's copy of the FSM.
func (n *Node) Workspace(id int64) (fsm.Workspace, bool) { return n.fsm.Workspace(id) }

// WorkspaceByName returns the record of the workspace with the name.
func (n *Node) WorkspaceByName(name string) (fsm.Workspace, bool) { return n.fsm.WorkspaceByName(name) }

// Workspaces returns every workspace, by ascending ID.
func (n *Node) Workspaces() []fsm.Workspace { return n.fsm.Workspaces() }

// CreateWorkspace creates a workspace through Raft and returns its record
// (the FSM gives the ID). Errors wrap fsm.ErrWorkspaceExists or
// fsm.ErrInvalidCommand.
func (n *Node) CreateWorkspace(ctx context.Context, c fsm.CreateWorkspace) (fsm.Workspace, error) {
	w, err := n.proposeWorkspace(ctx, "create workspace "+c.Name, c)
	if err == nil {
		n.awaitLocal(ctx, func() bool { _, ok := n.fsm.Workspace(w.ID); return ok })
	}
	return w, err
}

// UpdateWorkspace renames a workspace and/or sets its limits through Raft.
// Errors wrap fsm.ErrUnknownWorkspace, fsm.ErrWorkspaceExists or
// fsm.ErrInvalidCommand (renaming the default workspace among them).
func (n *Node) UpdateWorkspace(ctx context.Context, c fsm.UpdateWorkspace) (fsm.Workspace, error) {
	w, err := n.proposeWorkspace(ctx, fmt.Sprintf("update workspace %d", c.ID), c)
	if err == nil {
		n.awaitLocal(ctx, func() bool { got, _ := n.fsm.Workspace(w.ID); return got == w })
	}
	return w, err
}

// DeleteWorkspace deletes a workspace through Raft and returns its last
// record. The FSM cannot see links: the caller checks that the workspace
// holds none first. Errors wrap fsm.ErrUnknownWorkspace,
// fsm.ErrWorkspaceNotEmpty (domains or unrevoked keys) or
// fsm.ErrInvalidCommand (the default workspace).
func (n *Node) DeleteWorkspace(ctx context.Context, id int64) (fsm.Workspace, error) {
	w, err := n.proposeWorkspace(ctx, fmt.Sprintf("delete workspace %d", id), fsm.DeleteWorkspace{ID: id})
	if err == nil {
		n.awaitLocal(ctx, func() bool { _, ok := n.fsm.Workspace(id); return !ok })
	}
	return w, err
}

// proposeWorkspace proposes a workspace command and unwraps its result.
func (n *Node) proposeWorkspace(ctx context.Context, what string, c fsm.Command) (fsm.Workspace, error) {
	resp, err := n.propose(ctx, c)
	var w fsm.Workspace
	if err == nil {
		r := resp.(*fsm.WorkspaceResult)
		w, err = r.Workspace, r.Err
	}
	if err != nil {
		return w, fmt.Errorf("%s: %w", what, err)
	}
	return w, nil
}
