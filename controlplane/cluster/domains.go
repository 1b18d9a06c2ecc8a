package cluster

import (
	"context"
	"fmt"

	"github.com/shortify/shortify/controlplane/fsm"
)

// The custom domain registry through Raft. Reads come from this node's
// copy of the FSM (the on-demand TLS check asks DomainVerified for every
// new host name and must not wait on the leader); writes are proposed,
// and a follower forwards them to the leader as admin commands (the
// caller's key goes along, see WithCallerKey) and returns once it has
// applied them too (awaitLocal).

// Domain returns the record of a custom domain (in fsm.NormalizeDomain's
// form).
func (n *Node) Domain(domain string) (fsm.DomainEntry, bool) { return n.fsm.Domain(domain) }

// WorkspaceDomains returns the workspace's custom domains, sorted.
func (n *Node) WorkspaceDomains(ws int64) []fsm.DomainEntry { return n.fsm.WorkspaceDomains(ws) }

// DomainVerified tells whether a custom domain is registered and
// verified: whether on-demand TLS may get it a certificate.
func (n *Node) DomainVerified(domain string) bool { return n.fsm.DomainVerified(domain) }

// AddDomain registers a custom domain, not verified yet, through Raft.
// Errors wrap fsm.ErrDomainTaken, fsm.ErrDomainExists (the entry is the
// holder's record then), fsm.ErrUnknownWorkspace or fsm.ErrInvalidCommand.
func (n *Node) AddDomain(ctx context.Context, c fsm.AddDomain) (fsm.DomainEntry, error) {
	return n.proposeDomain(ctx, "add domain "+c.Domain, c, func(d fsm.DomainEntry) bool { _, ok := n.fsm.Domain(d.Domain); return ok })
}

// VerifyDomain marks a domain of the workspace verified through Raft (the
// caller has found its challenge in DNS: see package domainverify).
func (n *Node) VerifyDomain(ctx context.Context, c fsm.VerifyDomain) (fsm.DomainEntry, error) {
	return n.proposeDomain(ctx, "verify domain "+c.Domain, c, func(d fsm.DomainEntry) bool { return n.fsm.DomainVerified(d.Domain) })
}

// SetDomainSettings replaces the settings of a domain of the workspace
// through Raft.
func (n *Node) SetDomainSettings(ctx context.Context, c fsm.SetDomainSettings) (fsm.DomainEntry, error) {
	return n.proposeDomain(ctx, "set domain settings "+c.Domain, c, func(d fsm.DomainEntry) bool {
		got, ok := n.fsm.Domain(d.Domain)
		return !ok || got.Settings == d.Settings
	})
}

// DeleteDomain removes a domain of the workspace from the registry
// through Raft and returns its last record; fsm.ErrUnknownDomain when the
// workspace holds no such domain. Certificates already issued for it stay
// in the edges' storage; new ones are refused from then on.
func (n *Node) DeleteDomain(ctx context.Context, c fsm.DeleteDomain) (fsm.DomainEntry, error) {
	return n.proposeDomain(ctx, "delete domain "+c.Domain, c, func(d fsm.DomainEntry) bool {
		got, ok := n.fsm.Domain(c.Domain)
		return !ok || got.CreatedMs != d.CreatedMs // gone, or added anew since
	})
}

// proposeDomain proposes a domain command, unwraps its result and, once
// it succeeded, waits until this node's copy shows it (seen, see
// awaitLocal).
func (n *Node) proposeDomain(ctx context.Context, what string, c fsm.Command, seen func(fsm.DomainEntry) bool) (fsm.DomainEntry, error) {
	resp, err := n.propose(ctx, c)
	var d fsm.DomainEntry
	if err == nil {
		r := resp.(*fsm.DomainEntryResult)
		d, err = r.Domain, r.Err
	}
	if err != nil {
		return d, fmt.Errorf("%s: %w", what, err)
	}
	n.awaitLocal(ctx, func() bool { return seen(d) })
	return d, nil
}
