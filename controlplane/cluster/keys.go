package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/shortify/shortify/controlplane/fsm"
)

// APIKey returns the record of the API key with the ID from this node's
// copy of the replicated key ring: authentication needs no Raft round trip.
func (n *Node) APIKey(id string) (fsm.KeyEntry, bool) { return n.fsm.APIKey(id) }

// APIKeys returns every API key record, oldest first.
func (n *Node) APIKeys() []fsm.KeyEntry { return n.fsm.APIKeys() }

// AddAPIKey stores a key record through Raft (forwarded to the leader when
// needed). With onlyIfNone it is stored only into an empty ring, and
// fsm.ErrKeyExists says another key came first.
func (n *Node) AddAPIKey(ctx context.Context, k fsm.KeyEntry, onlyIfNone bool) error {
	resp, err := n.propose(ctx, fsm.AddKey{Key: k, OnlyIfNone: onlyIfNone})
	if err == nil {
		err = resp.(*fsm.KeyResult).Err
	}
	if err != nil {
		return fmt.Errorf("add API key %s: %w", k.ID, err)
	}
	// The new key works on this node when the call returns.
	n.awaitLocal(ctx, func() bool { _, ok := n.fsm.APIKey(k.ID); return ok })
	return nil
}

// RevokeAPIKey revokes a key through Raft; false when the ring has no key
// with the ID.
func (n *Node) RevokeAPIKey(ctx context.Context, id string, atMs int64) (bool, error) {
	resp, err := n.propose(ctx, fsm.RevokeKey{ID: id, AtMs: atMs})
	if err == nil {
		err = resp.(*fsm.KeyResult).Err
	}
	switch {
	case errors.Is(err, fsm.ErrUnknownKey):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("revoke API key %s: %w", id, err)
	}
	// The key no longer works on this node when the call returns.
	n.awaitLocal(ctx, func() bool { k, ok := n.fsm.APIKey(id); return !ok || k.Revoked() })
	return true, nil
}

// BlockedDomains returns the replicated domain blocklist, sorted.
func (n *Node) BlockedDomains() []string { return n.fsm.BlockedDomains() }

// DomainBlocked reports whether host or a parent domain is blocked,
// from this node's copy of the blocklist.
func (n *Node) DomainBlocked(host string) bool { return n.fsm.DomainBlocked(host) }

// SetDomainBlocked adds a domain to the blocklist or removes it, through
// Raft.
func (n *Node) SetDomainBlocked(ctx context.Context, domain string, blocked bool) error {
	resp, err := n.propose(ctx, fsm.SetDomainBlocked{Domain: domain, Blocked: blocked})
	if err == nil {
		err = resp.(*fsm.DomainResult).Err
	}
	if err != nil {
		return fmt.Errorf("set domain %s blocked=%v: %w", domain, blocked, err)
	}
	return nil
}

// PartitionPolicy returns the replicated partition policy from this node's
// copy of the FSM; false until one has been set.
func (n *Node) PartitionPolicy() (fsm.PartitionPolicy, bool) { return n.fsm.PartitionPolicy() }

// SetPartitionPolicy replaces the partition policy through Raft (forwarded
// to the leader when needed); a policy out of range wraps
// fsm.ErrInvalidCommand.
func (n *Node) SetPartitionPolicy(ctx context.Context, p fsm.PartitionPolicy) error {
	resp, err := n.propose(ctx, fsm.SetPartitionPolicy{Policy: p})
	if err == nil {
		err = resp.(*fsm.PolicyResult).Err
	}
	if err != nil {
		return fmt.Errorf("set partition policy: %w", err)
	}
	return nil
}

// SeedPartitionPolicy stores p as the partition policy only if the cluster
// has none yet, and returns the policy in force: p, or the one set before.
func (n *Node) SeedPartitionPolicy(ctx context.Context, p fsm.PartitionPolicy) (fsm.PartitionPolicy, error) {
	resp, err := n.propose(ctx, fsm.SetPartitionPolicy{Policy: p, OnlyIfNone: true})
	if err == nil {
		r := resp.(*fsm.PolicyResult)
		if r.Err == nil {
			return r.Policy, nil
		}
		err = r.Err
	}
	return fsm.PartitionPolicy{}, fmt.Errorf("seed partition policy: %w", err)
}
