package fsm

import (
	"encoding/json"
	"fmt"
)

// CommandType is the first byte of every command in the Raft log. Values are
// part of the log format: never renumber or reuse one.
type CommandType uint8

// The command types. Zero is never valid.
const (
	// TypeInitCluster sets the cluster's permutation key once.
	TypeInitCluster CommandType = 1
	// TypeAcquireLease leases a free or expired worker ID.
	TypeAcquireLease CommandType = 2
	// TypeRenewLease extends a worker lease held by the proposer.
	TypeRenewLease CommandType = 3
	// TypeReleaseLease gives a worker lease back.
	TypeReleaseLease CommandType = 4
	// TypeAllocateBlock hands out a block of the global sequence.
	TypeAllocateBlock CommandType = 5
	// TypeRegisterNode records a member's Raft and API addresses.
	TypeRegisterNode CommandType = 6
	// TypeDeregisterNode removes a member from the node registry.
	TypeDeregisterNode CommandType = 7
	// TypeAddKey stores an API key's hash and role.
	TypeAddKey CommandType = 8
	// TypeRevokeKey revokes an API key.
	TypeRevokeKey CommandType = 9
	// TypeSetDomainBlocked adds a domain to the blocklist or removes it.
	TypeSetDomainBlocked CommandType = 10
	// TypeSetPartitionPolicy replaces the partition policy.
	TypeSetPartitionPolicy CommandType = 11
	// TypeRecordPartitions records partitions in the partition catalogue.
	TypeRecordPartitions CommandType = 12
	// TypeCreateWorkspace creates a workspace (CommandVersion 2).
	TypeCreateWorkspace CommandType = 13
	// TypeUpdateWorkspace renames a workspace or sets its limits
	// (CommandVersion 2).
	TypeUpdateWorkspace CommandType = 14
	// TypeDeleteWorkspace deletes an empty workspace (CommandVersion 2).
	TypeDeleteWorkspace CommandType = 15
	// TypeAddDomain registers a custom domain (CommandVersion 2).
	TypeAddDomain CommandType = 16
	// TypeVerifyDomain marks a custom domain verified (CommandVersion 2).
	TypeVerifyDomain CommandType = 17
	// TypeSetDomainSettings replaces a custom domain's settings
	// (CommandVersion 2).
	TypeSetDomainSettings CommandType = 18
	// TypeDeleteDomain removes a custom domain (CommandVersion 2).
	TypeDeleteDomain CommandType = 19
)

// String names the command type for logs and panics.
func (t CommandType) String() string {
	switch t {
	case TypeInitCluster:
		return "init-cluster"
	case TypeAcquireLease:
		return "acquire-lease"
	case TypeRenewLease:
		return "renew-lease"
	case TypeReleaseLease:
		return "release-lease"
	case TypeAllocateBlock:
		return "allocate-block"
	case TypeRegisterNode:
		return "register-node"
	case TypeDeregisterNode:
		return "deregister-node"
	case TypeAddKey:
		return "add-key"
	case TypeRevokeKey:
		return "revoke-key"
	case TypeSetDomainBlocked:
		return "set-domain-blocked"
	case TypeSetPartitionPolicy:
		return "set-partition-policy"
	case TypeRecordPartitions:
		return "record-partitions"
	case TypeCreateWorkspace:
		return "create-workspace"
	case TypeUpdateWorkspace:
		return "update-workspace"
	case TypeDeleteWorkspace:
		return "delete-workspace"
	case TypeAddDomain:
		return "add-domain"
	case TypeVerifyDomain:
		return "verify-domain"
	case TypeSetDomainSettings:
		return "set-domain-settings"
	case TypeDeleteDomain:
		return "delete-domain"
	default:
		return fmt.Sprintf("command-type(%d)", uint8(t))
	}
}

// Command is a state change proposed to the FSM. Every value the FSM needs
// to decide (timestamps, keys) is in the command: the FSM never reads the
// clock or random numbers.
type Command interface {
	// Type is the command's type byte in the log.
	Type() CommandType
}

// InitCluster sets the permutation key that maps sequence numbers to short
// codes. The proposer makes the key (codegen.NewKey); it is set once and
// never changes. Applying it again answers ErrAlreadyInitialised together
// with the existing key. Response: *InitResult.
type InitCluster struct {
	// Key is the permutation key, KeySize bytes.
	Key []byte `json:"key"`
}

// AcquireLease leases a worker ID to a node. Response: *LeaseResult.
type AcquireLease struct {
	// Node is the ID of the node asking.
	Node string `json:"node"`
	// NowMs is the proposer's clock, in the same milliseconds as every other
	// time in the FSM.
	NowMs int64 `json:"now_ms"`
	// TTLMs is how long the lease lasts unless renewed, 1..MaxTTLMs.
	TTLMs int64 `json:"ttl_ms"`
}

// RenewLease extends a lease the node holds and reports the last timestamp
// it used. Response: *LeaseResult.
type RenewLease struct {
	// Node is the ID of the node that holds the lease.
	Node string `json:"node"`
	// Worker is the leased worker ID.
	Worker uint16 `json:"worker"`
	// Gen is the lease generation returned by AcquireLease.
	Gen uint64 `json:"gen"`
	// NowMs is the proposer's clock.
	NowMs int64 `json:"now_ms"`
	// TTLMs is how long the lease lasts from now, 1..MaxTTLMs.
	TTLMs int64 `json:"ttl_ms"`
	// LastMs is the highest timestamp the holder has used in an ID.
	LastMs int64 `json:"last_ms"`
}

// ReleaseLease gives a lease back. The holder must have stopped issuing IDs
// before it reads LastMs: the next holder of the worker ID starts after it.
// Response: *LeaseResult.
type ReleaseLease struct {
	// Node is the ID of the node that holds the lease.
	Node string `json:"node"`
	// Worker is the leased worker ID.
	Worker uint16 `json:"worker"`
	// Gen is the lease generation returned by AcquireLease.
	Gen uint64 `json:"gen"`
	// LastMs is the highest timestamp the holder used in an ID.
	LastMs int64 `json:"last_ms"`
}

// AllocateBlock hands out the next Size numbers of the global sequence.
// Response: *BlockResult.
type AllocateBlock struct {
	// Node is the ID of the node asking (recorded in logs only).
	Node string `json:"node"`
	// Size is the number of sequence numbers, 1..MaxBlockSize.
	Size uint64 `json:"size"`
}

// RegisterNode records where a member of the cluster is reached: its Raft
// address and the base URL of its REST API, to which followers forward the
// writes that need the leader while it leads. Registering an ID again
// replaces its entry. Response: *NodeResult.
type RegisterNode struct {
	// ID is the member's Raft server ID, 1..MaxNodeIDLen bytes.
	ID string `json:"id"`
	// RaftAddr is the member's Raft transport address (host:port),
	// 1..MaxAddrLen bytes.
	RaftAddr string `json:"raft_addr"`
	// APIAddr is the base URL of the member's REST API (for example
	// http://10.0.0.5:8080), at most MaxAddrLen bytes; empty when the member
	// has none, in which case no follower can forward to it.
	APIAddr string `json:"api_addr,omitempty"`
}

// DeregisterNode removes a member from the node registry, once it has left
// the Raft configuration. Response: *NodeResult.
type DeregisterNode struct {
	// ID is the member's Raft server ID.
	ID string `json:"id"`
}

// Type implements Command.
func (InitCluster) Type() CommandType { return TypeInitCluster }

// Type implements Command.
func (AcquireLease) Type() CommandType { return TypeAcquireLease }

// Type implements Command.
func (RenewLease) Type() CommandType { return TypeRenewLease }

// Type implements Command.
func (ReleaseLease) Type() CommandType { return TypeReleaseLease }

// Type implements Command.
func (AllocateBlock) Type() CommandType { return TypeAllocateBlock }

// Type implements Command.
func (RegisterNode) Type() CommandType { return TypeRegisterNode }

// Type implements Command.
func (DeregisterNode) Type() CommandType { return TypeDeregisterNode }

// Encode turns a command into the bytes given to raft.Apply: its type byte
// followed by its JSON payload. When only a newer CommandVersion can apply
// the command (see version.go), the payload carries the reserved member
// "_min_version" saying which.
func Encode(c Command) ([]byte, error) {
	need, err := needs(c)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %s: %w", c.Type(), err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %s: %w", c.Type(), err)
	}
	if need > 1 {
		if len(payload) < 2 || payload[0] != '{' {
			return nil, fmt.Errorf("fsm: encode %s: payload is not a JSON object", c.Type())
		}
		member := fmt.Sprintf("%q:%d", minVersionMember, need)
		if payload[1] != '}' {
			member += ","
		}
		payload = append([]byte("{"+member), payload[1:]...)
	}
	out := make([]byte, 0, 1+len(payload))
	out = append(out, byte(c.Type()))
	return append(out, payload...), nil
}

// InitResult answers InitCluster.
type InitResult struct {
	// Key is the cluster's key: the one just set or, with
	// ErrAlreadyInitialised, the one set before.
	Key []byte `json:"key,omitempty"`
	// Err is nil, ErrInvalidCommand or ErrAlreadyInitialised.
	Err error `json:"-"`
}

// LeaseResult answers AcquireLease, RenewLease and ReleaseLease.
type LeaseResult struct {
	// Worker is the worker ID.
	Worker uint16 `json:"worker"`
	// Gen identifies this lease of the worker ID; renew and release quote it.
	Gen uint64 `json:"gen"`
	// NotAfterMs is, for AcquireLease, the timestamp every ID of the new
	// holder must be strictly after (snowflake.New's notAfterMs).
	NotAfterMs int64 `json:"not_after_ms"`
	// ExpiresMs is when the lease ends unless renewed. The holder must not
	// issue an ID with a timestamp after it: the next holder starts after it.
	ExpiresMs int64 `json:"expires_ms"`
	// Err is nil, ErrInvalidCommand, ErrNoFreeWorker or ErrNotHolder.
	Err error `json:"-"`
}

// BlockResult answers AllocateBlock.
type BlockResult struct {
	// Start is the first sequence number of the block.
	Start uint64 `json:"start"`
	// End is one past the last sequence number of the block.
	End uint64 `json:"end"`
	// Err is nil, ErrInvalidCommand or ErrSequenceExhausted.
	Err error `json:"-"`
}

// NodeResult answers RegisterNode and DeregisterNode.
type NodeResult struct {
	// Err is nil, ErrInvalidCommand or (DeregisterNode) ErrUnknownNode.
	Err error `json:"-"`
}
