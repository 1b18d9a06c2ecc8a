package cluster

import (
	"context"
	"errors"

	"github.com/shortify/shortify/controlplane/fsm"
)

// A node that meets a Raft log entry its FSM cannot apply (a command from
// a newer release, see fsm.ApplyError and
// docs/decisions/0002-fsm-command-evolution.md) must not go on: skipping
// the entry would make its state diverge from the others'. The FSM halts
// itself; haltLoop then takes the node out of the cluster with a message
// that says what to do, and fails a start still in progress with it.

// haltLoop waits for the FSM to halt, then logs why, ends the start in
// progress (cancelStart, a no-op once Open has returned) and shuts Raft
// down, so that the node neither votes nor serves a state that lags. It
// ends with the node's context.
func (n *Node) haltLoop(cancelStart context.CancelCauseFunc) {
	defer n.loops.Done()
	select {
	case <-n.ctx.Done():
		return
	case <-n.fsm.Halted():
	}
	err := n.fsm.Err()
	n.log.Error("control-plane node stops: it cannot apply the Raft log",
		"error", err)
	cancelStart(err)
	if ferr := n.raft.Shutdown().Error(); ferr != nil {
		n.log.Warn("shut Raft down after the FSM halted", "error", ferr)
	}
}

// appliedResponse is the FSM's response to an applied entry, or the error
// when the FSM halted on it (or before it).
func appliedResponse(resp any) (any, error) {
	var ae *fsm.ApplyError
	if err, ok := resp.(error); ok && errors.As(err, &ae) {
		return nil, ae
	}
	return resp, nil
}
