package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// addWorkspaceKey stores a key of the role in workspace ws through the
// leader (as an instance admin's write) and returns the key and its ID.
func addWorkspaceKey(t testing.TB, lead *tnode, role string, ws int64) (string, string) {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	e := fsm.KeyEntry{ID: k.ID, Name: role, Role: role, Hash: k.Hash[:], CreatedMs: time.Now().UnixMilli(), Workspace: ws}
	if err := lead.node.AddAPIKey(t.Context(), e, false); err != nil {
		t.Fatalf("add a %s key of workspace %d: %v", role, ws, err)
	}
	return k.Secret, k.ID
}

// newKeyEntry is a key entry of a fresh key.
func newKeyEntry(t testing.TB, role string, ws int64) fsm.KeyEntry {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	return fsm.KeyEntry{ID: k.ID, Name: role, Role: role, Hash: k.Hash[:], CreatedMs: time.Now().UnixMilli(), Workspace: ws}
}

// TestWorkspaceAdminForwarding: a follower forwards a workspace admin's
// commands on its own workspace's keys and domains, and the leader, which
// checks the key and the workspace itself, refuses the rest: another
// workspace's keys and domains, instance admin keys, the workspace
// registry, and any admin command from a lower role.
func TestWorkspaceAdminForwarding(t *testing.T) {
	c := newCluster(t, 2, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	rootCtx := cluster.WithCallerKey(t.Context(), addKey(t, lead, "admin"))

	acme, err := follower.node.CreateWorkspace(rootCtx, fsm.CreateWorkspace{Name: "acme", AtMs: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := follower.node.CreateWorkspace(rootCtx, fsm.CreateWorkspace{Name: "other", AtMs: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.node.CreateWorkspace(rootCtx, fsm.CreateWorkspace{Name: "acme"}); !errors.Is(err, fsm.ErrWorkspaceExists) {
		t.Fatalf("a second acme: %v, want ErrWorkspaceExists", err)
	}
	acmeKey, _ := addWorkspaceKey(t, lead, "admin", acme.ID)
	viewerKey, _ := addWorkspaceKey(t, lead, "viewer", acme.ID)
	_, otherKeyID := addWorkspaceKey(t, lead, "viewer", other.ID)
	eventually(t, 5*time.Second, "the keys on the follower", func() bool {
		_, ok := follower.node.APIKey(otherKeyID)
		return ok
	})
	acmeCtx := cluster.WithCallerKey(t.Context(), acmeKey)
	viewerCtx := cluster.WithCallerKey(t.Context(), viewerKey)
	const challenge = "abcdefghijklmnopqrstuvwx"

	// Its own workspace's domain: every command goes through.
	if _, err := follower.node.AddDomain(acmeCtx, fsm.AddDomain{Domain: "go.acme.example", Workspace: acme.ID, Challenge: challenge, AtMs: 1}); err != nil {
		t.Fatalf("add own domain: %v", err)
	}
	if _, err := follower.node.SetDomainSettings(acmeCtx, fsm.SetDomainSettings{Domain: "go.acme.example", Workspace: acme.ID, Settings: fsm.DomainSettings{RedirectStatus: 302}}); err != nil {
		t.Fatalf("settings of own domain: %v", err)
	}
	if _, err := follower.node.VerifyDomain(acmeCtx, fsm.VerifyDomain{Domain: "go.acme.example", Workspace: acme.ID, AtMs: 2}); err != nil {
		t.Fatalf("verify own domain: %v", err)
	}
	eventually(t, 5*time.Second, "verified on the leader", func() bool { return lead.node.DomainVerified("go.acme.example") })
	// Own keys: a key of the workspace, and revoking one.
	if err := follower.node.AddAPIKey(acmeCtx, newKeyEntry(t, "creator", acme.ID), false); err != nil {
		t.Fatalf("add own workspace's key: %v", err)
	}
	own := newKeyEntry(t, "admin", acme.ID)
	if err := follower.node.AddAPIKey(acmeCtx, own, false); err != nil {
		t.Fatalf("add own workspace's admin key: %v", err)
	}
	if found, err := follower.node.RevokeAPIKey(acmeCtx, own.ID, 3); err != nil || !found {
		t.Fatalf("revoke own workspace's key: %v, %v", found, err)
	}

	forbidden := []struct {
		name string
		ctx  context.Context
		do   func(ctx context.Context) error
	}{
		{"another workspace's domain", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.AddDomain(ctx, fsm.AddDomain{Domain: "go.other.example", Workspace: other.ID, Challenge: challenge, AtMs: 1})
			return err
		}},
		{"delete another workspace's domain", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.DeleteDomain(ctx, fsm.DeleteDomain{Domain: "go.acme.example", Workspace: other.ID})
			return err
		}},
		{"a key of another workspace", acmeCtx, func(ctx context.Context) error {
			return follower.node.AddAPIKey(ctx, newKeyEntry(t, "viewer", other.ID), false)
		}},
		{"an instance admin key", acmeCtx, func(ctx context.Context) error {
			return follower.node.AddAPIKey(ctx, newKeyEntry(t, "admin", 0), false)
		}},
		{"a key of the default workspace", acmeCtx, func(ctx context.Context) error {
			return follower.node.AddAPIKey(ctx, newKeyEntry(t, "viewer", 0), false)
		}},
		{"revoke another workspace's key", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.RevokeAPIKey(ctx, otherKeyID, 4)
			return err
		}},
		{"create a workspace", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.CreateWorkspace(ctx, fsm.CreateWorkspace{Name: "mine"})
			return err
		}},
		{"rename its workspace", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.UpdateWorkspace(ctx, fsm.UpdateWorkspace{ID: acme.ID, Name: "acme2"})
			return err
		}},
		{"delete a workspace", acmeCtx, func(ctx context.Context) error {
			_, err := follower.node.DeleteWorkspace(ctx, other.ID)
			return err
		}},
		{"the blocklist", acmeCtx, func(ctx context.Context) error {
			return follower.node.SetDomainBlocked(ctx, "evil.example", true)
		}},
		{"a viewer's domain command", viewerCtx, func(ctx context.Context) error {
			_, err := follower.node.AddDomain(ctx, fsm.AddDomain{Domain: "v.acme.example", Workspace: acme.ID, Challenge: challenge, AtMs: 1})
			return err
		}},
	}
	for _, tc := range forbidden {
		if err := tc.do(tc.ctx); !errors.Is(err, cluster.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", tc.name, err)
		}
	}
	if _, ok := lead.node.Domain("go.other.example"); ok {
		t.Error("a refused domain reached the registry")
	}
	if k, _ := lead.node.APIKey(otherKeyID); k.Revoked() {
		t.Error("a refused revocation revoked")
	}
	// The instance admin does all of it.
	if _, err := follower.node.UpdateWorkspace(rootCtx, fsm.UpdateWorkspace{ID: acme.ID, Limits: &fsm.WorkspaceLimits{MaxDomains: 3}}); err != nil {
		t.Fatalf("instance admin sets limits: %v", err)
	}
	if _, err := follower.node.DeleteWorkspace(rootCtx, acme.ID); !errors.Is(err, fsm.ErrWorkspaceNotEmpty) {
		t.Fatalf("delete a workspace with a domain and keys: %v, want ErrWorkspaceNotEmpty", err)
	}
}
