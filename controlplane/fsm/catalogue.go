package fsm

import (
	"cmp"
	"fmt"
	"slices"
)

// The partition catalogue: every partition of the stats tables that the
// leader (or an admin request) created, detached or dropped, with its
// range and the proposer's time of the change. It lives in the FSM so that
// a new leader knows what its predecessors did, and so that an operator
// can compare it with what the stats database really holds (drift).
//
// Times here are Unix milliseconds (the partitions' own timeline), not the
// Snowflake-epoch milliseconds of the leases.

// Bounds of the catalogue.
const (
	// MaxCatalogue bounds the catalogue's entries: it is replicated and
	// snapshotted whole. Five tables with a partition a month add 60 a
	// year.
	MaxCatalogue = 10_000
	// MaxRecordsPerCommand bounds the records one RecordPartitions holds.
	MaxRecordsPerCommand = 1000
	// maxPartitionNameLen is PostgreSQL's identifier limit.
	maxPartitionNameLen = 63
)

// PartitionState is a catalogued partition's state.
type PartitionState string

// The partition states.
const (
	// PartitionCreated: the partition exists, attached to its table.
	PartitionCreated PartitionState = "created"
	// PartitionDetached: detached past retention; a plain table now.
	PartitionDetached PartitionState = "detached"
	// PartitionDropped: dropped (past retention, or on request).
	PartitionDropped PartitionState = "dropped"
)

// valid reports whether s is one of the states.
func (s PartitionState) valid() bool {
	return s == PartitionCreated || s == PartitionDetached || s == PartitionDropped
}

// PartitionRecord is one catalogued partition.
type PartitionRecord struct {
	// Table is the partitioned (parent) table.
	Table string `json:"table"`
	// Name is the partition's own table name.
	Name string `json:"name"`
	// FromMs and ToMs are the range bounds [from, to), Unix milliseconds.
	FromMs int64 `json:"from_ms"`
	ToMs   int64 `json:"to_ms"`
	// State is what was last done to the partition.
	State PartitionState `json:"state"`
	// ChangedMs is the proposer's time of the last state change, Unix
	// milliseconds. The FSM sets it from RecordPartitions.AtMs.
	ChangedMs int64 `json:"changed_ms,omitempty"`
}

// check reports what makes r unacceptable, wrapping ErrInvalidCommand.
func (r PartitionRecord) check() error {
	switch {
	case !tableName(r.Table):
		return fmt.Errorf("%w: table %q is not a table name", ErrInvalidCommand, r.Table)
	case !tableName(r.Name):
		return fmt.Errorf("%w: partition %q is not a table name", ErrInvalidCommand, r.Name)
	case r.FromMs >= r.ToMs:
		return fmt.Errorf("%w: partition %s range [%d, %d) is empty", ErrInvalidCommand, r.Name, r.FromMs, r.ToMs)
	case !r.State.valid():
		return fmt.Errorf("%w: partition %s state %q is not created, detached or dropped", ErrInvalidCommand, r.Name, r.State)
	}
	return nil
}

// tableName accepts the unquoted PostgreSQL names the stats tables and
// their partitions have: 1-63 of [a-z0-9_], not starting with a digit.
func tableName(s string) bool {
	if s == "" || len(s) > maxPartitionNameLen || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// RecordPartitions records partitions' states in the catalogue, all or
// none: one invalid record refuses the whole command. Recording the state a
// partition already has changes nothing (its ChangedMs stays). Response:
// *CatalogueResult.
type RecordPartitions struct {
	// AtMs is the proposer's clock, Unix milliseconds.
	AtMs int64 `json:"at_ms"`
	// Partitions are the records, 1..MaxRecordsPerCommand (ChangedMs is
	// ignored).
	Partitions []PartitionRecord `json:"partitions"`
}

// Type implements Command.
func (RecordPartitions) Type() CommandType { return TypeRecordPartitions }

// CatalogueResult answers RecordPartitions.
type CatalogueResult struct {
	// Changed is how many records changed the catalogue.
	Changed int `json:"changed"`
	// Err is nil or ErrInvalidCommand.
	Err error `json:"-"`
}

func (r *CatalogueResult) businessErr() error     { return r.Err }
func (r *CatalogueResult) setBusinessErr(e error) { r.Err = e }

func (s *state) recordPartitions(c *RecordPartitions) any {
	if c.AtMs <= 0 {
		return &CatalogueResult{Err: fmt.Errorf("%w: time %d", ErrInvalidCommand, c.AtMs)}
	}
	if len(c.Partitions) == 0 || len(c.Partitions) > MaxRecordsPerCommand {
		return &CatalogueResult{Err: fmt.Errorf("%w: %d records, want 1..%d", ErrInvalidCommand, len(c.Partitions), MaxRecordsPerCommand)}
	}
	added := 0
	for i, r := range c.Partitions {
		if err := r.check(); err != nil {
			return &CatalogueResult{Err: err}
		}
		if slices.ContainsFunc(c.Partitions[:i], func(q PartitionRecord) bool { return q.Name == r.Name }) {
			return &CatalogueResult{Err: fmt.Errorf("%w: partition %s recorded twice", ErrInvalidCommand, r.Name)}
		}
		if _, ok := s.catalogue[r.Name]; !ok {
			added++
		}
	}
	if len(s.catalogue)+added > MaxCatalogue {
		return &CatalogueResult{Err: fmt.Errorf("%w: the catalogue holds %d partitions, at most %d", ErrInvalidCommand, len(s.catalogue), MaxCatalogue)}
	}
	if s.catalogue == nil {
		s.catalogue = make(map[string]PartitionRecord, len(c.Partitions))
	}
	changed := 0
	for _, r := range c.Partitions {
		old, ok := s.catalogue[r.Name]
		r.ChangedMs = c.AtMs
		if ok && old.State == r.State {
			r.ChangedMs = old.ChangedMs
		}
		if ok && old == r {
			continue
		}
		s.catalogue[r.Name] = r
		changed++
	}
	return &CatalogueResult{Changed: changed}
}

// sortedCatalogue returns the catalogue by table, then name.
func (s *state) sortedCatalogue() []PartitionRecord {
	if len(s.catalogue) == 0 {
		return nil
	}
	out := make([]PartitionRecord, 0, len(s.catalogue))
	for _, r := range s.catalogue {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b PartitionRecord) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// PartitionCatalogue returns the partition catalogue by table, then name.
func (f *FSM) PartitionCatalogue() []PartitionRecord {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.sortedCatalogue()
}
