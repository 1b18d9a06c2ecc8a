package partitions

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The partition catalogue: the cluster's record of every managed
// partition that was created, detached or dropped (the Raft FSM's, in the
// control plane). A Manager with a Catalogue records each such change it
// makes, reconciles the catalogue with the database at the start of every
// upkeep (recording managed partitions that exist but are not catalogued as
// created), and List shows each partition's entry beside the database's
// figures, flagging where the two disagree.

// Catalogue states, as CatalogueEntry.State names them.
const (
	StateCreated  = "created"
	StateDetached = "detached"
	StateDropped  = "dropped"
)

// Drift kinds, as Partition.Drift names them.
const (
	// DriftMissingFromDatabase: catalogued as created, but the database has
	// no such partition (dropped or detached by hand, or a drop whose
	// record failed).
	DriftMissingFromDatabase = "missing_from_database"
	// DriftMissingFromCatalogue: a managed partition in the database that
	// the catalogue does not hold as created (made by hand, or a create
	// whose record failed); the leader's next upkeep records it.
	DriftMissingFromCatalogue = "missing_from_catalogue"
)

// CatalogueEntry is one partition in the catalogue.
type CatalogueEntry struct {
	Table, Name string
	// From and To are the range, [From, To).
	From, To time.Time
	// State is StateCreated, StateDetached or StateDropped.
	State string
	// Changed is when the state was last changed (the proposer's clock);
	// ignored by Record.
	Changed time.Time
}

// Catalogue is the replicated partition catalogue.
type Catalogue interface {
	// Entries returns the catalogue (this node's copy).
	Entries() []CatalogueEntry
	// Record stores the entries' states, stamped with at.
	Record(ctx context.Context, at time.Time, entries []CatalogueEntry) error
}

// record stores state for ps in the catalogue, if there is one.
func (m *Manager) record(ctx context.Context, at time.Time, state string, ps []Partition) error {
	if m.cfg.Catalogue == nil || len(ps) == 0 {
		return nil
	}
	es := make([]CatalogueEntry, 0, len(ps))
	for _, p := range ps {
		es = append(es, CatalogueEntry{Table: p.Table, Name: p.Name, From: p.From, To: p.To, State: state})
	}
	if err := m.cfg.Catalogue.Record(ctx, at, es); err != nil {
		return fmt.Errorf("partitions: record %d partitions as %s in the catalogue: %w", len(ps), state, err)
	}
	return nil
}

// recordOrLog records like record and logs a failure: for changes made on
// request, which did happen whether or not the record did (List shows the
// drift, and the next upkeep records a created partition).
func (m *Manager) recordOrLog(ctx context.Context, state string, ps []Partition) {
	if err := m.record(ctx, m.cfg.Now(), state, ps); err != nil {
		m.cfg.Logger.Error("partition change not recorded in the catalogue", "err", err)
	}
}

// Reconcile records as created every managed partition of the stats
// database that the catalogue does not hold as created, and returns them.
// The upkeep runs it first, so a new leader catalogues what its
// predecessors made but could not record, and what was made by hand.
// Without a catalogue it does nothing.
func (m *Manager) Reconcile(ctx context.Context, now time.Time) ([]Partition, error) {
	if m.cfg.Catalogue == nil || !m.stats.partitioned() {
		return nil, nil
	}
	ps, err := m.stats.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("partitions: reconcile the catalogue: %w", err)
	}
	cat := m.cfg.Catalogue.Entries()
	var missing []Partition
	for _, p := range ps {
		if p.Managed && !catalogued(cat, p.Name) {
			missing = append(missing, p)
		}
	}
	if err := m.record(ctx, now, StateCreated, missing); err != nil {
		return nil, err
	}
	for _, p := range missing {
		m.cfg.Logger.Info("catalogued an existing partition", "table", p.Table, "partition", p.Name)
	}
	return missing, nil
}

// catalogued reports whether the catalogue holds name as created.
func catalogued(cat []CatalogueEntry, name string) bool {
	return slices.ContainsFunc(cat, func(e CatalogueEntry) bool { return e.Name == name && e.State == StateCreated })
}

// withCatalogue sets each database partition's catalogue entry and drift,
// and adds the catalogue's partitions that the database does not hold.
func withCatalogue(ps []Partition, cat []CatalogueEntry) []Partition {
	byName := make(map[string]CatalogueEntry, len(cat))
	for _, e := range cat {
		byName[e.Name] = e
	}
	for i := range ps {
		p := &ps[i]
		e, ok := byName[p.Name]
		if ok && e.Table == p.Table {
			p.Catalogue = &e
			delete(byName, p.Name)
		}
		if p.Managed && (!ok || e.State != StateCreated) {
			p.Drift = DriftMissingFromCatalogue
		}
	}
	for _, e := range cat {
		if _, ok := byName[e.Name]; !ok {
			continue // shown with its database partition
		}
		p := monthPartition(e.Table, e.From)
		p.Name, p.From, p.To = e.Name, e.From, e.To // as recorded, whatever the month
		p.Bounds = "FOR VALUES FROM (" + tsLiteral(e.From) + ") TO (" + tsLiteral(e.To) + ")"
		p.SizeBytes, p.InDatabase = 0, false
		p.Catalogue = &e
		if e.State == StateCreated {
			p.Drift = DriftMissingFromDatabase
		}
		ps = append(ps, p)
	}
	return ps
}

// MemoryCatalogue is a Catalogue held in memory: for a Manager outside a
// cluster, and for tests. Like the replicated one, recording the state an
// entry already has keeps its Changed time. It is safe for concurrent use.
type MemoryCatalogue struct {
	mu      sync.Mutex
	entries map[string]CatalogueEntry
}

// Entries implements Catalogue: the entries by table, then name.
func (c *MemoryCatalogue) Entries() []CatalogueEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CatalogueEntry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b CatalogueEntry) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Record implements Catalogue.
func (c *MemoryCatalogue) Record(_ context.Context, at time.Time, es []CatalogueEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]CatalogueEntry)
	}
	for _, e := range es {
		e.Changed = at
		if old, ok := c.entries[e.Name]; ok && old.State == e.State {
			e.Changed = old.Changed
		}
		c.entries[e.Name] = e
	}
	return nil
}

// Interface guard.
var _ Catalogue = (*MemoryCatalogue)(nil)
