package cluster_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/workspace"
)

// A follower adds, verifies and deletes a custom domain through the
// leader for an instance admin; every node's DomainVerified follows; the
// FSM's refusals come back as its sentinels; without an admin's key the
// leader refuses the forwarded command.
func TestDomainsReplicated(t *testing.T) {
	c := newCluster(t, 2, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	ctx := cluster.WithCallerKey(t.Context(), addKey(t, lead, "admin"))
	const domain = "go.example.com"
	ws := int64(workspace.DefaultID)
	now := time.Now().UnixMilli()

	add := fsm.AddDomain{Domain: domain, Workspace: ws, Challenge: "abcdefghijklmnopqrstuvwx", AtMs: now}
	if _, err := follower.node.AddDomain(t.Context(), add); !errors.Is(err, cluster.ErrForbidden) {
		t.Fatalf("add without a caller key through a follower: %v, want ErrForbidden", err)
	}
	d, err := follower.node.AddDomain(ctx, add)
	if err != nil || d.Domain != domain || d.Verified {
		t.Fatalf("add: %+v, %v", d, err)
	}
	if d, err := follower.node.AddDomain(ctx, add); !errors.Is(err, fsm.ErrDomainExists) || d.Domain != domain {
		t.Fatalf("add again: %+v, %v; want ErrDomainExists and the record", d, err)
	}
	eventually(t, 5*time.Second, "the domain on the leader", func() bool {
		d, ok := lead.node.Domain(domain)
		return ok && !d.Verified
	})
	if lead.node.DomainVerified(domain) {
		t.Fatal("verified before VerifyDomain")
	}
	if _, err := follower.node.VerifyDomain(ctx, fsm.VerifyDomain{Domain: "other.example.com", Workspace: ws, AtMs: now}); !errors.Is(err, fsm.ErrUnknownDomain) {
		t.Fatalf("verify an unknown domain: %v", err)
	}
	if d, err := follower.node.VerifyDomain(ctx, fsm.VerifyDomain{Domain: domain, Workspace: ws, AtMs: now + 1}); err != nil || !d.Verified {
		t.Fatalf("verify: %+v, %v", d, err)
	}
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "verified on "+n.cfg.NodeID, func() bool { return n.node.DomainVerified(domain) })
	}
	if got := lead.node.WorkspaceDomains(ws); len(got) != 1 || got[0].Domain != domain {
		t.Fatalf("WorkspaceDomains = %+v", got)
	}
	if _, err := follower.node.DeleteDomain(ctx, fsm.DeleteDomain{Domain: domain, Workspace: ws}); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "deleted on "+n.cfg.NodeID, func() bool { return !n.node.DomainVerified(domain) })
	}
	if _, err := lead.node.DeleteDomain(ctx, fsm.DeleteDomain{Domain: domain, Workspace: ws}); !errors.Is(err, fsm.ErrUnknownDomain) {
		t.Fatalf("delete again: %v", err)
	}
}
