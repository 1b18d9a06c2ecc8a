package cluster

import (
	"context"
	"time"
)

// localApplyWait bounds how long a write forwarded to the leader waits for
// this node to apply it too.
const localApplyWait = 2 * time.Second

// awaitLocal waits, after a write succeeded, until this node's copy of
// the FSM shows it (seen), so that a client's next request to the same
// node reads what it just wrote: a follower applies the leader's entry a
// little after the leader answered. The write is committed either way; a
// node that lags longer answers success and catches up later.
func (n *Node) awaitLocal(ctx context.Context, seen func() bool) {
	if seen() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, localApplyWait)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !seen() {
		select {
		case <-ctx.Done():
			n.log.Debug("a forwarded write is not applied here yet", "err", ctx.Err())
			return
		case <-t.C:
		}
	}
}
