package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/internal/workspace"
)

// snapshotVersion is the format version written into snapshots. Version 2
// added the node registry, version 3 the API key ring, version 4 the domain
// blocklist, version 5 the partition policy, version 6 the partition
// catalogue, version 7 the workspaces, the keys' workspaces and the custom
// domains; Restore still reads the older ones (which restore without what
// came later: only the default workspace, the keys upgraded as upgradeKey
// says). A state without anything of version 7 is written as version 6
// (see legacyForm).
const snapshotVersion = 7

// oldestSnapshotVersion is the oldest format Restore reads.
const oldestSnapshotVersion = 1

// State is a copy of the FSM's state: what snapshots hold and what tests
// compare.
type State struct {
	// Version is the snapshot format version.
	Version int `json:"version"`
	// Key is the permutation key, nil before InitCluster.
	Key []byte `json:"key,omitempty"`
	// NextSequence is the first sequence number no block has covered yet.
	NextSequence uint64 `json:"next_sequence"`
	// Workers lists, by ascending ID, every worker ID that was ever leased.
	Workers []WorkerState `json:"workers,omitempty"`
	// Nodes is the node registry, by ascending ID.
	Nodes []NodeInfo `json:"nodes,omitempty"`
	// Keys is the API key ring (hashes only), oldest first.
	Keys []KeyEntry `json:"keys,omitempty"`
	// BlockedDomains is the domain blocklist, sorted.
	BlockedDomains []string `json:"blocked_domains,omitempty"`
	// PartitionPolicy is the partition policy, nil until one is set.
	PartitionPolicy *PartitionPolicy `json:"partition_policy,omitempty"`
	// Partitions is the partition catalogue, by table, then name.
	Partitions []PartitionRecord `json:"partitions,omitempty"`
	// Workspaces is the workspace registry, by ascending ID; it always
	// holds the default workspace (absent before version 7).
	Workspaces []Workspace `json:"workspaces,omitempty"`
	// LastWorkspaceID is the highest workspace ID ever given.
	LastWorkspaceID int64 `json:"last_workspace_id,omitempty"`
	// Domains is the custom domain registry, sorted.
	Domains []DomainEntry `json:"domains,omitempty"`
}

// WorkerState is one worker ID's lease record.
type WorkerState struct {
	// ID is the worker ID, below NumWorkers.
	ID uint16 `json:"id"`
	// Holder is the node that holds the lease or, when Held is false, the
	// last node that held it.
	Holder string `json:"holder,omitempty"`
	// Held tells whether the lease is taken (it may have expired).
	Held bool `json:"held,omitempty"`
	// Gen counts the acquisitions of this worker ID.
	Gen uint64 `json:"gen,omitempty"`
	// ExpiresMs is when the current lease ends unless renewed.
	ExpiresMs int64 `json:"expires_ms,omitempty"`
	// HighMs is the highest timestamp any holder may have used.
	HighMs int64 `json:"high_ms,omitempty"`
}

func (w *worker) export(id uint16) WorkerState {
	return WorkerState{ID: id, Holder: w.holder, Held: w.held, Gen: w.gen, ExpiresMs: w.expiresMs, HighMs: w.highMs}
}

func (w *worker) used() bool { return w.gen != 0 }

func (s *state) export() State {
	st := State{Version: snapshotVersion, Key: bytes.Clone(s.key), NextSequence: s.nextSeq}
	for id := range s.workers {
		if w := &s.workers[id]; w.used() {
			st.Workers = append(st.Workers, w.export(uint16(id)))
		}
	}
	st.Nodes = s.sortedNodes()
	st.Keys = s.sortedKeys()
	st.BlockedDomains = s.sortedBlocked()
	if s.policy != nil {
		p := *s.policy
		st.PartitionPolicy = &p
	}
	st.Partitions = s.sortedCatalogue()
	st.Workspaces = s.sortedWorkspaces()
	st.LastWorkspaceID = s.lastWorkspace
	st.Domains = s.domainsOf(0)
	return st
}

// stateFrom checks a decoded snapshot and builds the state it describes.
func stateFrom(st State) (*state, error) {
	if st.Version > snapshotVersion {
		return nil, fmt.Errorf("snapshot format version %d was written by a newer release (this one reads %d..%d): upgrade this node",
			st.Version, oldestSnapshotVersion, snapshotVersion)
	}
	if st.Version < oldestSnapshotVersion {
		return nil, fmt.Errorf("snapshot format version %d, want %d..%d", st.Version, oldestSnapshotVersion, snapshotVersion)
	}
	if st.Version < 2 && len(st.Nodes) > 0 {
		return nil, fmt.Errorf("snapshot version %d has a node registry", st.Version)
	}
	if st.Key != nil && len(st.Key) != KeySize {
		return nil, fmt.Errorf("snapshot key is %d bytes, want %d", len(st.Key), KeySize)
	}
	if st.NextSequence > MaxSequence {
		return nil, fmt.Errorf("snapshot sequence %d above %d", st.NextSequence, uint64(MaxSequence))
	}
	s := newState()
	s.key, s.nextSeq = bytes.Clone(st.Key), st.NextSequence
	for _, w := range st.Workers {
		if w.ID >= NumWorkers {
			return nil, fmt.Errorf("snapshot worker ID %d >= %d", w.ID, NumWorkers)
		}
		if s.workers[w.ID].used() {
			return nil, fmt.Errorf("snapshot lists worker ID %d twice", w.ID)
		}
		if w.Gen == 0 {
			return nil, fmt.Errorf("snapshot worker ID %d has generation 0", w.ID)
		}
		s.workers[w.ID] = worker{holder: w.Holder, held: w.Held, gen: w.Gen, expiresMs: w.ExpiresMs, highMs: w.HighMs}
	}
	for _, n := range st.Nodes {
		if err := n.check(); err != nil {
			return nil, fmt.Errorf("snapshot node %q: %w", n.ID, err)
		}
		if _, dup := s.nodes[n.ID]; dup {
			return nil, fmt.Errorf("snapshot lists node %q twice", n.ID)
		}
		if s.nodes == nil {
			s.nodes = make(map[string]NodeInfo, len(st.Nodes))
		}
		s.nodes[n.ID] = n
	}
	if st.Version < 3 && len(st.Keys) > 0 {
		return nil, fmt.Errorf("snapshot version %d has API keys", st.Version)
	}
	if err := restoreWorkspaces(s, st); err != nil {
		return nil, err
	}
	for _, k := range st.Keys {
		if st.Version < 7 {
			if k.Workspace != 0 {
				return nil, fmt.Errorf("snapshot version %d has a key with a workspace", st.Version)
			}
			k = upgradeKey(k)
		}
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("snapshot key %q: %w", k.ID, err)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("snapshot lists key %q twice", k.ID)
		}
		if err := s.checkKeyWorkspace(k); err != nil {
			return nil, fmt.Errorf("snapshot key %q: %w", k.ID, err)
		}
		if s.keys == nil {
			s.keys = make(map[string]KeyEntry, len(st.Keys))
		}
		s.keys[k.ID] = k
	}
	if err := restoreDomains(s, st); err != nil {
		return nil, err
	}
	if st.Version < 4 && len(st.BlockedDomains) > 0 {
		return nil, fmt.Errorf("snapshot version %d has a blocklist", st.Version)
	}
	for _, d := range st.BlockedDomains {
		if err := CheckDomain(d); err != nil {
			return nil, fmt.Errorf("snapshot blocklist: %w", err)
		}
		if s.blocked == nil {
			s.blocked = make(map[string]struct{}, len(st.BlockedDomains))
		}
		s.blocked[d] = struct{}{}
	}
	if st.PartitionPolicy != nil {
		if st.Version < 5 {
			return nil, fmt.Errorf("snapshot version %d has a partition policy", st.Version)
		}
		if err := st.PartitionPolicy.Check(); err != nil {
			return nil, fmt.Errorf("snapshot partition policy: %w", err)
		}
		p := *st.PartitionPolicy
		s.policy = &p
	}
	if st.Version < 6 && len(st.Partitions) > 0 {
		return nil, fmt.Errorf("snapshot version %d has a partition catalogue", st.Version)
	}
	if len(st.Partitions) > MaxCatalogue {
		return nil, fmt.Errorf("snapshot catalogue holds %d partitions, at most %d", len(st.Partitions), MaxCatalogue)
	}
	for _, r := range st.Partitions {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("snapshot partition %q: %w", r.Name, err)
		}
		if _, dup := s.catalogue[r.Name]; dup {
			return nil, fmt.Errorf("snapshot lists partition %q twice", r.Name)
		}
		if s.catalogue == nil {
			s.catalogue = make(map[string]PartitionRecord, len(st.Partitions))
		}
		s.catalogue[r.Name] = r
	}
	return s, nil
}

// restoreWorkspaces checks a snapshot's workspace registry and puts it
// into s, which holds the default workspace already: a snapshot from
// before version 7 has none and keeps only that one.
func restoreWorkspaces(s *state, st State) error {
	if st.Version < 7 {
		if len(st.Workspaces) > 0 || st.LastWorkspaceID != 0 || len(st.Domains) > 0 {
			return fmt.Errorf("snapshot version %d has workspaces or domains", st.Version)
		}
		return nil
	}
	if len(st.Workspaces) > MaxWorkspaces {
		return fmt.Errorf("snapshot holds %d workspaces, at most %d", len(st.Workspaces), MaxWorkspaces)
	}
	if st.LastWorkspaceID < 0 {
		return fmt.Errorf("snapshot last workspace ID %d", st.LastWorkspaceID)
	}
	s.lastWorkspace = max(st.LastWorkspaceID, workspace.DefaultID)
	if len(st.Workspaces) == 0 {
		return nil // read tolerantly: only the default workspace
	}
	s.workspaces = make(map[int64]Workspace, len(st.Workspaces))
	for _, w := range st.Workspaces {
		if err := w.check(); err != nil {
			return fmt.Errorf("snapshot workspace %d: %w", w.ID, err)
		}
		if w.ID > s.lastWorkspace {
			return fmt.Errorf("snapshot workspace %d above the last ID given, %d", w.ID, s.lastWorkspace)
		}
		if _, dup := s.workspaces[w.ID]; dup || s.workspaceNamed(w.Name) != 0 {
			return fmt.Errorf("snapshot lists workspace %d (%s) twice", w.ID, w.Name)
		}
		s.workspaces[w.ID] = w
	}
	if _, ok := s.workspaces[workspace.DefaultID]; !ok {
		return fmt.Errorf("snapshot has no default workspace")
	}
	return nil
}

// checkKeyWorkspace refuses a key whose workspace is not there: a viewer
// or creator key needs one; a live key's must exist (a revoked key may
// outlive its workspace, DeleteWorkspace allows that).
func (s *state) checkKeyWorkspace(k KeyEntry) error {
	if k.Workspace == 0 {
		if k.Role != "admin" {
			return fmt.Errorf("%w: %s key of no workspace", ErrInvalidCommand, k.Role)
		}
		return nil
	}
	if _, ok := s.workspaces[k.Workspace]; !ok && !k.Revoked() {
		return fmt.Errorf("%w: %d", ErrUnknownWorkspace, k.Workspace)
	}
	if k.Workspace > s.lastWorkspace {
		return fmt.Errorf("%w: workspace %d never given", ErrInvalidCommand, k.Workspace)
	}
	return nil
}

// restoreDomains checks a snapshot's domain registry and puts it into s.
func restoreDomains(s *state, st State) error {
	if len(st.Domains) > MaxDomains {
		return fmt.Errorf("snapshot holds %d domains, at most %d", len(st.Domains), MaxDomains)
	}
	for _, d := range st.Domains {
		if err := d.check(); err != nil {
			return fmt.Errorf("snapshot domain %q: %w", d.Domain, err)
		}
		if _, ok := s.workspaces[d.Workspace]; !ok {
			return fmt.Errorf("snapshot domain %q: %w: %d", d.Domain, ErrUnknownWorkspace, d.Workspace)
		}
		if _, dup := s.domains[d.Domain]; dup {
			return fmt.Errorf("snapshot lists domain %q twice", d.Domain)
		}
		if s.domains == nil {
			s.domains = make(map[string]DomainEntry, len(st.Domains))
		}
		s.domains[d.Domain] = d
	}
	return nil
}

// Snapshot implements raft.FSM: it copies the state under the lock; the
// copy is written later by Persist. A halted FSM refuses: its state lags
// the index raft would record, and a snapshot of it would make the node
// skip the entries it could not apply once it is upgraded.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.halt != nil {
		return nil, fmt.Errorf("fsm: no snapshot of a halted FSM: %w", f.halt)
	}
	return &snapshot{state: legacyForm(f.s.export())}, nil
}

// legacyFormVersion is the last snapshot format from before workspaces.
const legacyFormVersion = 6

// legacyForm returns st in snapshot format 6 when that format says all of
// it: only the default workspace as it starts, no custom domains, every
// key where upgradeKey puts a key of no workspace. Restoring it gives st
// back (stateFrom upgrades it), and a node of the release before
// workspaces can restore it too, so that a leader of this release can send
// its snapshots to followers not upgraded yet until workspaces are used.
// Otherwise st is returned as it is.
func legacyForm(st State) State {
	if st.LastWorkspaceID != workspace.DefaultID || len(st.Domains) > 0 ||
		len(st.Workspaces) != 1 || st.Workspaces[0] != defaultWorkspace() {
		return st
	}
	for _, k := range st.Keys {
		if k.Workspace != upgradeKey(KeyEntry{Role: k.Role}).Workspace {
			return st
		}
	}
	st.Version, st.Workspaces, st.LastWorkspaceID = legacyFormVersion, nil, 0
	st.Keys = slices.Clone(st.Keys)
	for i := range st.Keys {
		st.Keys[i].Workspace = 0
	}
	return st
}

// Restore implements raft.FSM: it reads a snapshot, builds a new state and
// swaps it in under the lock. On error the state is left as it was.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st State
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		return fmt.Errorf("fsm: restore: decode snapshot: %w", err)
	}
	s, err := stateFrom(st)
	if err != nil {
		return fmt.Errorf("fsm: restore: %w", err)
	}
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
	return nil
}

// snapshot is a point-in-time copy of the state.
type snapshot struct {
	state State
}

// Persist implements raft.FSMSnapshot. It cancels the sink on any error.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.state); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("fsm: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("fsm: close snapshot sink: %w", err)
	}
	return nil
}

// Release implements raft.FSMSnapshot; the copy holds no resources.
func (s *snapshot) Release() {}

// Interface guards.
var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.FSMSnapshot = (*snapshot)(nil)
)
