// Package fsm is the Raft finite-state machine of the Shortify control
// plane: the small coordination state every control-plane node agrees on.
//
// It holds the cluster's permutation key for short codes, the leases of the
// 1024 Snowflake worker IDs (with the highest timestamp each ID has ever
// used, so that a reused ID never goes back in time), the global sequence
// counter from which disjoint blocks are handed out to the nodes that create
// links, the node registry (each member's Raft address and the base URL
// of its REST API, so that followers know where to forward writes), the
// API key ring (hashes only), the domain blocklist, the partition policy
// and the partition catalogue (see RecordPartitions).
//
// The FSM is deterministic: it never reads the clock or random numbers. The
// proposer puts timestamps and choices into the command (see Encode and the
// command types). A command is a type byte followed by a JSON payload and is
// dispatched through a table; an unknown or undecodable command panics, since
// skipping it could make replicas diverge. Refusals that are part of the
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
// directly. The API keys' and the partition catalogue's times are Unix
// milliseconds.
package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
}

// New returns an empty FSM: no key, no leases, sequence at zero.
func New() *FSM {
	return &FSM{s: &state{}}
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
}

// worker is one worker ID's lease record.
type worker struct {
	holder    string // current holder, or the last one when !held
	held      bool
	gen       uint64 // bumped on every acquire
	expiresMs int64  // when the current lease ends unless renewed
	highMs    int64  // highest timestamp any holder may have used
}

// command is one entry of the dispatch table: how to decode a command type
// and how to apply it.
type command struct {
	decode func(payload []byte) (Command, error)
	apply  func(s *state, c Command) any
}

// commands is the dispatch table, indexed by command type.
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
}

// def builds the table entry of command type C from its apply function.
func def[C Command](apply func(*state, *C) any) command {
	return command{
		decode: func(payload []byte) (Command, error) {
			var c C
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				return nil, fmt.Errorf("%T: %w", c, err)
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, fmt.Errorf("%T: trailing data after the command", c)
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
// Encode makes it) strictly: an empty input, an unknown type, a payload that
// is not exactly one JSON object of the command's fields are errors. It
// never panics, so the leader can check a command that came over the
// network before it reaches the log, where Apply would panic on it.
func Decode(data []byte) (Command, error) {
	if len(data) == 0 {
		return nil, errors.New("fsm: decode: empty command")
	}
	t := CommandType(data[0])
	cmd, ok := commands[t]
	if !ok {
		return nil, fmt.Errorf("fsm: decode: unknown command type %d", uint8(t))
	}
	c, err := cmd.decode(data[1:])
	if err != nil {
		return nil, fmt.Errorf("fsm: decode %s: %w", t, err)
	}
	return c, nil
}

// Apply implements raft.FSM. It panics on an unknown or undecodable command:
// applying something else than every other replica would corrupt the state.
func (f *FSM) Apply(l *raft.Log) any {
	if len(l.Data) == 0 {
		panic(fmt.Sprintf("fsm: empty command at index %d", l.Index))
	}
	t := CommandType(l.Data[0])
	cmd, ok := commands[t]
	if !ok {
		panic(fmt.Sprintf("fsm: unknown command type %d at index %d", uint8(t), l.Index))
	}
	c, err := cmd.decode(l.Data[1:])
	if err != nil {
		panic(fmt.Sprintf("fsm: undecodable %s command at index %d: %v", t, l.Index, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return cmd.apply(f.s, c)
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
