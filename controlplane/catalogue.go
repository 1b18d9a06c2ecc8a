package controlplane

import (
	"context"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/stats/partitions"
)

// nodeCatalogue is the node's replicated partition catalogue as the
// partition manager sees it.
type nodeCatalogue struct{ node *cluster.Node }

// Entries implements partitions.Catalogue.
func (n nodeCatalogue) Entries() []partitions.CatalogueEntry {
	recs := n.node.PartitionCatalogue()
	out := make([]partitions.CatalogueEntry, 0, len(recs))
	for _, r := range recs {
		out = append(out, partitions.CatalogueEntry{
			Table:   r.Table,
			Name:    r.Name,
			From:    time.UnixMilli(r.FromMs).UTC(),
			To:      time.UnixMilli(r.ToMs).UTC(),
			State:   string(r.State),
			Changed: time.UnixMilli(r.ChangedMs).UTC(),
		})
	}
	return out
}

// Record implements partitions.Catalogue: one Raft command per
// fsm.MaxRecordsPerCommand entries.
func (n nodeCatalogue) Record(ctx context.Context, at time.Time, es []partitions.CatalogueEntry) error {
	recs := make([]fsm.PartitionRecord, 0, len(es))
	for _, e := range es {
		recs = append(recs, fsm.PartitionRecord{
			Table:  e.Table,
			Name:   e.Name,
			FromMs: e.From.UnixMilli(),
			ToMs:   e.To.UnixMilli(),
			State:  fsm.PartitionState(e.State),
		})
	}
	for len(recs) > 0 {
		k := min(len(recs), fsm.MaxRecordsPerCommand)
		if err := n.node.RecordPartitions(ctx, at.UnixMilli(), recs[:k]); err != nil {
			return err
		}
		recs = recs[k:]
	}
	return nil
}

// Interface guard.
var _ partitions.Catalogue = nodeCatalogue{}
