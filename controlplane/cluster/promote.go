package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// Promotion: a node joins as a non-voter, which receives the log but
// neither votes nor counts toward the quorum, so that a node that is still
// catching up (or that never does: a wrong address, a firewall) cannot make
// the cluster lose its majority. The leader promotes it to a voter once it
// has caught up.

const (
	// promoteInterval is how often the leader looks for non-voters to
	// promote. Without non-voters a check reads the local configuration
	// only.
	promoteInterval = 250 * time.Millisecond
	// promoteMaxLag is how many entries a non-voter's applied index may
	// trail the leader's commit index by and count as caught up: a few
	// commands proposed meanwhile must not keep it waiting for a quiet
	// moment that a busy cluster never has.
	promoteMaxLag = 64
)

// caughtUp reports whether a member that has applied applied entries has
// caught up with a leader whose commit index is commit.
func caughtUp(applied, commit uint64) bool { return applied+promoteMaxLag >= commit }

// promoteLoop promotes caught-up non-voters while this node leads, until
// Close.
func (n *Node) promoteLoop() {
	defer n.loops.Done()
	t := time.NewTicker(promoteInterval)
	defer t.Stop()
	warned := map[raft.ServerID]bool{}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if n.raft.State() != raft.Leader {
			continue
		}
		servers, err := n.servers()
		if err != nil {
			continue
		}
		for _, s := range servers {
			if s.Suffrage != raft.Nonvoter {
				continue
			}
			err := n.promote(n.ctx, s)
			switch {
			case err == nil || errors.Is(err, errNotCaughtUp) || n.ctx.Err() != nil:
			case errors.Is(err, ErrLeaderUnreachable) || !warned[s.ID]:
				// Unreachable: starting up, most likely. A refusal (wrong
				// secret) is worth one warning.
				lvl := slog.LevelDebug
				if !errors.Is(err, ErrLeaderUnreachable) {
					lvl, warned[s.ID] = slog.LevelWarn, true
				}
				n.log.Log(n.ctx, lvl, "cannot promote a non-voter yet", "member", s.ID, "error", err)
			}
		}
	}
}

// errNotCaughtUp says a non-voter trails the leader too far to promote.
var errNotCaughtUp = errors.New("not caught up")

// promote makes the non-voter s a voter if its API reports that it follows
// this leader and has caught up with its log.
func (n *Node) promote(ctx context.Context, s raft.Server) error {
	reg, ok := n.fsm.Node(string(s.ID))
	if !ok || reg.APIAddr == "" {
		return fmt.Errorf("%w: %s has not registered its API address", ErrLeaderUnreachable, s.ID)
	}
	commit := n.raft.CommitIndex()
	out, err := n.call(ctx, reg, http.MethodGet, ClusterPath, nil, true)
	if err != nil {
		return err
	}
	var info Info
	if err := json.Unmarshal(out, &info); err != nil {
		return fmt.Errorf("node %s answered %s with %w", s.ID, ClusterPath, err)
	}
	switch {
	case info.NodeID != string(s.ID):
		return fmt.Errorf("the API registered for %s answers as node %q", s.ID, info.NodeID)
	case info.LeaderID != n.cfg.NodeID || !caughtUp(info.AppliedIndex, commit):
		return fmt.Errorf("%w: %s follows %q, applied %d of %d", errNotCaughtUp, s.ID, info.LeaderID, info.AppliedIndex, commit)
	}
	f := n.raft.AddVoter(s.ID, s.Address, 0, membershipTimeout)
	if err := n.wait(ctx, f); err != nil {
		return fmt.Errorf("promote %s to voter: %w", s.ID, err)
	}
	n.log.Info("promoted a caught-up non-voter to voter", "member", s.ID, "applied_index", info.AppliedIndex, "commit_index", commit)
	return nil
}
