package cluster

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/controlplane/fsm"
)

// PartitionCatalogue returns the replicated partition catalogue from this
// node's copy of the FSM, by table, then name.
func (n *Node) PartitionCatalogue() []fsm.PartitionRecord { return n.fsm.PartitionCatalogue() }

// RecordPartitions records partitions' states in the catalogue through
// Raft (forwarded to the leader when needed), stamped with atMs, the
// caller's clock in Unix milliseconds. It records at most
// fsm.MaxRecordsPerCommand per call; an invalid record wraps
// fsm.ErrInvalidCommand and records none.
func (n *Node) RecordPartitions(ctx context.Context, atMs int64, recs []fsm.PartitionRecord) error {
	resp, err := n.propose(ctx, fsm.RecordPartitions{AtMs: atMs, Partitions: recs})
	if err == nil {
		err = resp.(*fsm.CatalogueResult).Err
	}
	if err != nil {
		return fmt.Errorf("record %d partitions: %w", len(recs), err)
	}
	return nil
}
