package api_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// fsmRegistry is the replicated registries (keys, workspaces, domains) on
// a real FSM applied in process, without Raft: the FSM's own rules (names,
// ownership of domains, non-empty workspaces) answer the API's writes, as
// the cluster node's would on a leader.
type fsmRegistry struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

func newRegistry() *fsmRegistry { return &fsmRegistry{f: fsm.New()} }

func (g *fsmRegistry) apply(c fsm.Command) (any, error) {
	data, err := fsm.Encode(c)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.index++
	return g.f.Apply(&raft.Log{Index: g.index, Term: 1, Type: raft.LogCommand, Data: data}), nil
}

func (g *fsmRegistry) Workspace(id int64) (fsm.Workspace, bool)       { return g.f.Workspace(id) }
func (g *fsmRegistry) WorkspaceByName(n string) (fsm.Workspace, bool) { return g.f.WorkspaceByName(n) }
func (g *fsmRegistry) Workspaces() []fsm.Workspace                    { return g.f.Workspaces() }
func (g *fsmRegistry) DomainVerified(d string) bool                   { return g.f.DomainVerified(d) }
func (g *fsmRegistry) Domain(d string) (fsm.DomainEntry, bool)        { return g.f.Domain(d) }
func (g *fsmRegistry) WorkspaceDomains(ws int64) []fsm.DomainEntry    { return g.f.WorkspaceDomains(ws) }
func (g *fsmRegistry) ws(c fsm.Command) (fsm.Workspace, error) {
	r, err := g.apply(c)
	return wsResult(r, err)
}
func (g *fsmRegistry) dom(c fsm.Command) (fsm.DomainEntry, error) {
	r, err := g.apply(c)
	return domResult(r, err)
}
func (g *fsmRegistry) DeleteWorkspace(_ context.Context, id int64) (fsm.Workspace, error) {
	return g.ws(fsm.DeleteWorkspace{ID: id})
}

func (g *fsmRegistry) CreateWorkspace(_ context.Context, c fsm.CreateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

func (g *fsmRegistry) UpdateWorkspace(_ context.Context, c fsm.UpdateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

func (g *fsmRegistry) AddDomain(_ context.Context, c fsm.AddDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *fsmRegistry) VerifyDomain(_ context.Context, c fsm.VerifyDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *fsmRegistry) SetDomainSettings(_ context.Context, c fsm.SetDomainSettings) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *fsmRegistry) DeleteDomain(_ context.Context, c fsm.DeleteDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func wsResult(r any, err error) (fsm.Workspace, error) {
	if err != nil {
		return fsm.Workspace{}, err
	}
	res := r.(*fsm.WorkspaceResult)
	return res.Workspace, res.Err
}

func domResult(r any, err error) (fsm.DomainEntry, error) {
	if err != nil {
		return fsm.DomainEntry{}, err
	}
	res := r.(*fsm.DomainEntryResult)
	return res.Domain, res.Err
}

// The key ring (api.Keys), as controlplane's nodeKeys maps it.

func (g *fsmRegistry) LookupKey(id string) (api.KeyRecord, bool) {
	e, ok := g.f.APIKey(id)
	if !ok {
		return api.KeyRecord{}, false
	}
	return keyRecordOf(e), true
}

func keyRecordOf(e fsm.KeyEntry) api.KeyRecord {
	r := api.KeyRecord{ID: e.ID, Name: e.Name, Role: apikey.Role(e.Role), CreatedAt: time.UnixMilli(e.CreatedMs).UTC(), Revoked: e.Revoked(), Workspace: e.Workspace}
	copy(r.Hash[:], e.Hash)
	return r
}

func (g *fsmRegistry) ListKeys() []api.KeyRecord {
	var out []api.KeyRecord
	for _, e := range g.f.APIKeys() {
		out = append(out, keyRecordOf(e))
	}
	return out
}

func (g *fsmRegistry) AddKey(_ context.Context, r api.KeyRecord) error {
	res, err := g.apply(fsm.AddKey{Key: fsm.KeyEntry{ID: r.ID, Name: r.Name, Role: string(r.Role), Hash: r.Hash[:], CreatedMs: r.CreatedAt.UnixMilli(), Workspace: r.Workspace}})
	if err != nil {
		return err
	}
	return res.(*fsm.KeyResult).Err
}

func (g *fsmRegistry) RevokeKey(_ context.Context, id string, at time.Time) (bool, error) {
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

// mint adds a key of the role in workspace ws (0 with role admin: an
// instance admin) and returns its secret.
func (g *fsmRegistry) mint(t testing.TB, role apikey.Role, ws int64) string {
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

// mustWorkspace creates a workspace and returns its ID.
func (g *fsmRegistry) mustWorkspace(t testing.TB, name string) int64 {
	t.Helper()
	w, err := g.CreateWorkspace(context.Background(), fsm.CreateWorkspace{Name: name, AtMs: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// deps returns d with the registry in every registry's place.
func (g *fsmRegistry) deps(d api.Deps) api.Deps {
	d.Keys, d.Workspaces, d.WorkspaceAdmin, d.Domains, d.DomainAdmin = g, g, g, g, g
	return d
}
