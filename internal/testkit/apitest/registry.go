// Package apitest runs the control plane's REST API in tests without a
// Raft cluster: Registry is its replicated registries on a real FSM.
// The API's own tests and the Go client's use it.
package apitest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// Registry is the replicated registries (keys, workspaces, domains,
// blocklist) on a real FSM applied in process, without Raft: the FSM's
// own rules (names, ownership of domains, non-empty workspaces) answer
// the API's writes as the cluster node's would on a leader.
type Registry struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

// NewRegistry returns a Registry over a fresh FSM.
func NewRegistry() *Registry { return &Registry{f: fsm.New()} }

func (g *Registry) apply(c fsm.Command) (any, error) {
	data, err := fsm.Encode(c)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", c, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.index++
	return g.f.Apply(&raft.Log{Index: g.index, Term: 1, Type: raft.LogCommand, Data: data}), nil
}

// Workspace is the API's registry method of that name, on the FSM.
func (g *Registry) Workspace(id int64) (fsm.Workspace, bool) { return g.f.Workspace(id) }

// WorkspaceByName is the API's registry method of that name, on the FSM.
func (g *Registry) WorkspaceByName(n string) (fsm.Workspace, bool) { return g.f.WorkspaceByName(n) }

// Workspaces is the API's registry method of that name, on the FSM.
func (g *Registry) Workspaces() []fsm.Workspace { return g.f.Workspaces() }

// DomainVerified is the API's registry method of that name, on the FSM.
func (g *Registry) DomainVerified(d string) bool { return g.f.DomainVerified(d) }

// Domain is the API's registry method of that name, on the FSM.
func (g *Registry) Domain(d string) (fsm.DomainEntry, bool) { return g.f.Domain(d) }

// WorkspaceDomains is the API's registry method of that name, on the FSM.
func (g *Registry) WorkspaceDomains(ws int64) []fsm.DomainEntry { return g.f.WorkspaceDomains(ws) }

// BlockedDomains is the API's registry method of that name, on the FSM.
func (g *Registry) BlockedDomains() []string { return g.f.BlockedDomains() }

// DomainBlocked is the API's registry method of that name, on the FSM.
func (g *Registry) DomainBlocked(host string) bool { return g.f.DomainBlocked(host) }

// SetDomainBlocked is the API's registry method of that name, on the FSM.
func (g *Registry) SetDomainBlocked(_ context.Context, domain string, blocked bool) error {
	r, err := g.apply(fsm.SetDomainBlocked{Domain: domain, Blocked: blocked})
	if err != nil {
		return err
	}
	return r.(*fsm.DomainResult).Err
}

func (g *Registry) ws(c fsm.Command) (fsm.Workspace, error) {
	r, err := g.apply(c)
	if err != nil {
		return fsm.Workspace{}, err
	}
	res := r.(*fsm.WorkspaceResult)
	return res.Workspace, res.Err
}

func (g *Registry) dom(c fsm.Command) (fsm.DomainEntry, error) {
	r, err := g.apply(c)
	if err != nil {
		return fsm.DomainEntry{}, err
	}
	res := r.(*fsm.DomainEntryResult)
	return res.Domain, res.Err
}

// DeleteWorkspace is the API's registry method of that name, on the FSM.
func (g *Registry) DeleteWorkspace(_ context.Context, id int64) (fsm.Workspace, error) {
	return g.ws(fsm.DeleteWorkspace{ID: id})
}

// CreateWorkspace is the API's registry method of that name, on the FSM.
func (g *Registry) CreateWorkspace(_ context.Context, c fsm.CreateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

// UpdateWorkspace is the API's registry method of that name, on the FSM.
func (g *Registry) UpdateWorkspace(_ context.Context, c fsm.UpdateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

// AddDomain is the API's registry method of that name, on the FSM.
func (g *Registry) AddDomain(_ context.Context, c fsm.AddDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

// VerifyDomain is the API's registry method of that name, on the FSM.
func (g *Registry) VerifyDomain(_ context.Context, c fsm.VerifyDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

// SetDomainSettings is the API's registry method of that name, on the FSM.
func (g *Registry) SetDomainSettings(_ context.Context, c fsm.SetDomainSettings) (fsm.DomainEntry, error) {
	return g.dom(c)
}

// DeleteDomain is the API's registry method of that name, on the FSM.
func (g *Registry) DeleteDomain(_ context.Context, c fsm.DeleteDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func keyRecordOf(e fsm.KeyEntry) api.KeyRecord {
	r := api.KeyRecord{ID: e.ID, Name: e.Name, Role: apikey.Role(e.Role), CreatedAt: time.UnixMilli(e.CreatedMs).UTC(), Revoked: e.Revoked(), Workspace: e.Workspace}
	copy(r.Hash[:], e.Hash)
	return r
}

// LookupKey is the API's registry method of that name, on the FSM.
func (g *Registry) LookupKey(id string) (api.KeyRecord, bool) {
	e, ok := g.f.APIKey(id)
	if !ok {
		return api.KeyRecord{}, false
	}
	return keyRecordOf(e), true
}

// ListKeys is the API's registry method of that name, on the FSM.
func (g *Registry) ListKeys() []api.KeyRecord {
	var out []api.KeyRecord
	for _, e := range g.f.APIKeys() {
		out = append(out, keyRecordOf(e))
	}
	return out
}

// AddKey is the API's registry method of that name, on the FSM.
func (g *Registry) AddKey(_ context.Context, r api.KeyRecord) error {
	res, err := g.apply(fsm.AddKey{Key: fsm.KeyEntry{ID: r.ID, Name: r.Name, Role: string(r.Role), Hash: r.Hash[:], CreatedMs: r.CreatedAt.UnixMilli(), Workspace: r.Workspace}})
	if err != nil {
		return err
	}
	return res.(*fsm.KeyResult).Err
}

// RevokeKey is the API's registry method of that name, on the FSM.
func (g *Registry) RevokeKey(_ context.Context, id string, at time.Time) (bool, error) {
	res, err := g.apply(fsm.RevokeKey{ID: id, AtMs: at.UnixMilli()})
	if err != nil {
		return false, err
	}
	if err := res.(*fsm.KeyResult).Err; err != nil {
		if errors.Is(err, fsm.ErrUnknownKey) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Deps returns d with the registry in every registry's place (keys,
// workspaces, domains; not the blocklist, which tests opt into).
func (g *Registry) Deps(d api.Deps) api.Deps {
	d.Keys, d.Workspaces, d.WorkspaceAdmin, d.Domains, d.DomainAdmin = g, g, g, g, g
	return d
}

// Mint adds a key of the role in workspace ws (0 with role admin: an
// instance admin) and returns its secret.
func (g *Registry) Mint(t testing.TB, role apikey.Role, ws int64) string {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddKey(context.Background(), api.KeyRecord{ID: k.ID, Name: string(role), Role: role, Hash: k.Hash, CreatedAt: time.Now(), Workspace: ws}); err != nil {
		t.Fatal(err)
	}
	return k.Secret
}

// MustWorkspace creates a workspace and returns its ID.
func (g *Registry) MustWorkspace(t testing.TB, name string) int64 {
	t.Helper()
	w, err := g.CreateWorkspace(context.Background(), fsm.CreateWorkspace{Name: name, AtMs: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}
