// Package fsm is the Raft finite-state machine of the Shortify control
// plane: the small coordination state every control-plane node agrees on.
//
// It holds the cluster's permutation key for short codes, the leases of the
// 1024 Snowflake worker IDs (with the highest timestamp each ID has ever
// used, so that a reused ID never goes back in time), the global sequence
// counter from which disjoint blocks are handed out to the nodes that create
// links, the node registry (each member's Raft address and the base URL
// of its REST API, so that followers know where to forward writes), the
// API key ring (hashes only), the domain blocklist, the partition policy,
// the partition catalogue (see RecordPartitions), the workspaces and the
// custom domain registry (see workspaces.go and domains.go).
//
// The FSM is deterministic: it never reads the clock or random numbers. The
// proposer puts timestamps and choices into the command (see Encode and the
// command types). A command is a type byte followed by a JSON payload and is
// dispatched through a table. Commands evolve under a versioning rule (see
// version.go and CommandVersion) so that a cluster of mixed versions keeps
// running during a rolling upgrade; a command this version cannot apply
// halts the FSM (see Halted), since skipping it could make replicas
// diverge. Refusals that are part of the
// business (no free worker ID, cluster already initialised, ...) come back
// inside the response value: the Err field of InitResult, LeaseResult,
// BlockResult and NodeResult.
//
// Decode, EncodeResponse and DecodeResponse give commands and responses a
// wire form, so that a follower can hand a command to the leader and get
// the response back with its business error still recognisable by
// errors.Is.
//
// The times of worker leases are integer milliseconds on one timeline
// chosen by the proposers (the cluster package uses milliseconds since the
// Snowflake epoch), so that lease expiries and ID timestamps compare
// directly. The times of the API keys, the partition catalogue, the
// workspaces and the custom domains are Unix milliseconds.
package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// KeySize is the length of the permutation key in bytes.
const KeySize = 32

// NumWorkers is the number of Snowflake worker IDs (10 bits).
const NumWorkers = 1024

// MaxBlockSize is the largest sequence block one AllocateBlock hands out.
const MaxBlockSize = 1_000_000

// MaxSequence bounds the global sequence: no block reaches it. It is far
// beyond the numbers short codes can use (codegen's tiers end below 2^60),
// and keeps every counter over a block, even one that callers push past
// the block's end, from wrapping around.
const MaxSequence = 1 << 63

// MaxTTLMs is the longest lease TTL accepted (one day).
const MaxTTLMs = 24 * 60 * 60 * 1000

// MaxNodeIDLen bounds the node IDs in the registry, in bytes.
const MaxNodeIDLen = 128

// MaxAddrLen bounds the addresses in the registry, in bytes.
const MaxAddrLen = 512

// Business errors, returned inside response values, never as FSM failures.
var (
	// ErrInvalidCommand is wrapped when a well-formed command has arguments
	// out of range (an empty node ID, a TTL of zero, a worker ID >= NumWorkers,
	// a key of the wrong size, a block size out of range).
	ErrInvalidCommand = errors.New("invalid command")
	// ErrAlreadyInitialised answers a second InitCluster; the response
	// carries the existing key.
	ErrAlreadyInitialised = errors.New("cluster already initialised")
	// ErrNoFreeWorker answers AcquireLease when every worker ID is leased
	// and none has expired.
	ErrNoFreeWorker = errors.New("no free worker ID")
	// ErrNotHolder answers RenewLease and ReleaseLease from a node that does
	// not hold that lease (any more).
	ErrNotHolder = errors.New("worker lease not held by this node")
	// ErrSequenceExhausted answers AllocateBlock when the sequence cannot
	// hold another block of that size below MaxSequence.
	ErrSequenceExhausted = errors.New("sequence exhausted")
	// ErrUnknownNode answers DeregisterNode for an ID the registry does not
	// hold.
	ErrUnknownNode = errors.New("node not in the registry")
)

// FSM is the control plane's raft.FSM. Its methods are safe for concurrent
// use; readers (Key, State, ...) see the state after some applied index.
type FSM struct {
	mu sync.RWMutex
	s  *state
	// halt is the entry Apply could not apply, nil while the FSM runs;
	// halted is closed when it is set.
	halt   *ApplyError
	halted chan struct{}
	// version is the CommandVersion this FSM applies: CommandVersion,
	// lower only in tests that play an older release.
	version int
}

// New returns an empty FSM: no key, no leases, sequence at zero, only the
// default workspace.
func New() *FSM { return newAtVersion(CommandVersion) }

// newAtVersion returns an empty FSM that applies what CommandVersion
// version applied, as an older release does: the tests' older node.
func newAtVersion(version int) *FSM {
	return &FSM{s: newState(), halted: make(chan struct{}), version: version}
}

// newState returns the empty state: only the default workspace.
func newState() *state {
	d := defaultWorkspace()
	return &state{workspaces: map[int64]Workspace{d.ID: d}, lastWorkspace: d.ID}
}

// state is the FSM's whole state. It is only touched under FSM.mu.
type state struct {
	key     []byte
	nextSeq uint64
	workers [NumWorkers]worker
	// nodes is the node registry by ID. Nothing iterates over it without
	// sorting, so map order never reaches a response or a snapshot.
	nodes map[string]NodeInfo
	// keys is the API key ring by key ID; like nodes, only read sorted.
	keys map[string]KeyEntry
	// blocked is the domain blocklist.
	blocked map[string]struct{}
	// policy is the partition policy, nil until one is set.
	policy *PartitionPolicy
	// catalogue is the partition catalogue by partition name; like nodes,
	// only read sorted.
	catalogue map[string]PartitionRecord
	// workspaces is the workspace registry by ID, never without the
	// default workspace; like nodes, only read sorted (or by key).
	workspaces map[int64]Workspace
	// lastWorkspace is the highest workspace ID ever given.
	lastWorkspace int64
	// domains is the custom domain registry by domain; like nodes, only
	// read sorted (or by key).
	domains map[string]DomainEntry
}

// worker is one worker ID's lease record.
type worker struct {
	holder    string // current holder, or the last one when !held
	held      bool
	gen       uint64 // bumped on every acquire
	expiresMs int64  // when the current lease ends unless renewed
	highMs    int64  // highest timestamp any holder may have used
}

// command is one entry of the dispatch table: the version that introduced
// the command type, how to decode it and how to apply it.
type command struct {
	since  int
	decode func(payload []byte) (Command, error)
	apply  func(s *state, c Command) any
}

// commands is the dispatch table, indexed by command type. A type added
// later is registered with defSince and the CommandVersion it comes with.
var commands = map[CommandType]command{
	TypeInitCluster:        def((*state).initCluster),
	TypeAcquireLease:       def((*state).acquireLease),
	TypeRenewLease:         def((*state).renewLease),
	TypeReleaseLease:       def((*state).releaseLease),
	TypeAllocateBlock:      def((*state).allocateBlock),
	TypeRegisterNode:       def((*state).registerNode),
	TypeDeregisterNode:     def((*state).deregisterNode),
	TypeAddKey:             def((*state).addKey),
	TypeRevokeKey:          def((*state).revokeKey),
	TypeSetDomainBlocked:   def((*state).setDomainBlocked),
	TypeSetPartitionPolicy: def((*state).setPartitionPolicy),
	TypeRecordPartitions:   def((*state).recordPartitions),
	// CommandVersion 2: workspaces and custom domains.
	TypeCreateWorkspace:   defSince(2, (*state).createWorkspace),
	TypeUpdateWorkspace:   defSince(2, (*state).updateWorkspace),
	TypeDeleteWorkspace:   defSince(2, (*state).deleteWorkspace),
	TypeAddDomain:         defSince(2, (*state).addDomain),
	TypeVerifyDomain:      defSince(2, (*state).verifyDomain),
	TypeSetDomainSettings: defSince(2, (*state).setDomainSettings),
	TypeDeleteDomain:      defSince(2, (*state).deleteDomain),
}

// def builds the table entry of a version-1 command type C from its apply
// function.
func def[C Command](apply func(*state, *C) any) command {
	return defSince(1, apply)
}

// defSince builds the table entry of command type C, introduced by
// CommandVersion since. Its payload is decoded tolerantly: members this
// version does not know are ignored (see version.go for why that is safe).
func defSince[C Command](since int, apply func(*state, *C) any) command {
	return command{
		since: since,
		decode: func(payload []byte) (Command, error) {
			var c C
			if err := decodeOne(payload, &c); err != nil {
				return nil, fmt.Errorf("%T: %w", c, err)
			}
			return c, nil
		},
		apply: func(s *state, c Command) any {
			v := c.(C)
			return apply(s, &v)
		},
	}
}

// Decode parses an encoded command (a type byte and its JSON payload, as
// Encode makes it): an empty input, a payload that is not exactly one JSON
// object or does not fit the command's fields are errors; so are a command
// type this version does not know and a command that needs a newer
// CommandVersion (wrapping ErrNeedsNewerVersion). Members this version does
// not know are ignored. It never panics, so the leader can check a command
// that came over the network before it reaches the log.
func Decode(data []byte) (Command, error) {
	c, _, _, err := decodeEntry(data, CommandVersion)
	if err != nil {
		if len(data) > 0 {
			return nil, fmt.Errorf("fsm: decode %s: %w", CommandType(data[0]), err)
		}
		return nil, fmt.Errorf("fsm: decode: %w", err)
	}
	return c, nil
}

// Apply implements raft.FSM. An entry it cannot apply (an unknown command
// type, a command that needs a newer CommandVersion, a malformed payload)
// halts the FSM rather than being skipped, which would let this replica
// diverge: Apply returns an *ApplyError for it and for every later entry,
// changes nothing more, and Halted is closed so that the node can shut
// down (see version.go).
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.halt != nil {
		return f.halt
	}
	c, cmd, need, err := decodeEntry(l.Data, f.version)
	if err != nil {
		ae := &ApplyError{Index: l.Index, Need: need, Err: err, version: f.version}
		if len(l.Data) > 0 {
			ae.Type = CommandType(l.Data[0])
		}
		f.halt = ae
		close(f.halted)
		return ae
	}
	return cmd.apply(f.s, c)
}

// Halted is closed when the FSM has met a log entry it cannot apply; Err
// then says which.
func (f *FSM) Halted() <-chan struct{} { return f.halted }

// Err returns the *ApplyError that halted the FSM, or nil while it runs.
func (f *FSM) Err() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.halt == nil {
		return nil // not a typed nil inside an error
	}
	return f.halt
}

// Key returns a copy of the cluster's permutation key, or nil before
// InitCluster.
func (f *FSM) Key() []byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return bytes.Clone(f.s.key)
}

// NextSequence returns the first sequence number no block has covered yet.
func (f *FSM) NextSequence() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.nextSeq
}

// Worker returns the lease record of one worker ID.
func (f *FSM) Worker(id uint16) (WorkerState, error) {
	if id >= NumWorkers {
		return WorkerState{}, fmt.Errorf("fsm: worker ID %d: %w", id, ErrInvalidCommand)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.workers[id].export(id), nil
}

// State returns a deep copy of the whole state.
func (f *FSM) State() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.export()
}

func (s *state) initCluster(c *InitCluster) any {
	if len(c.Key) != KeySize {
		return &InitResult{Err: fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalidCommand, len(c.Key), KeySize)}
	}
	if s.key != nil {
		return &InitResult{Key: bytes.Clone(s.key), Err: ErrAlreadyInitialised}
	}
	s.key = bytes.Clone(c.Key)
	return &InitResult{Key: bytes.Clone(s.key)}
}

func (s *state) allocateBlock(c *AllocateBlock) any {
	if c.Size == 0 || c.Size > MaxBlockSize {
		return &BlockResult{Err: fmt.Errorf("%w: block size %d not in 1..%d", ErrInvalidCommand, c.Size, MaxBlockSize)}
	}
	if c.Node == "" {
		return &BlockResult{Err: fmt.Errorf("%w: empty node ID", ErrInvalidCommand)}
	}
	start := s.nextSeq
	if start > MaxSequence-c.Size {
		return &BlockResult{Err: ErrSequenceExhausted}
	}
	end := start + c.Size
	s.nextSeq = end
	return &BlockResult{Start: start, End: end}
}
