package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
)

// registry is the replicated registries (keys, workspaces, domains,
// blocklist) on a real FSM applied in process, without Raft, as
// controlplane/api's tests keep them: the FSM's own rules answer the
// API's writes as a leader's would.
type registry struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

func newRegistry() *registry { return &registry{f: fsm.New()} }

func (g *registry) apply(c fsm.Command) (any, error) {
	data, err := fsm.Encode(c)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", c, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.index++
	return g.f.Apply(&raft.Log{Index: g.index, Term: 1, Type: raft.LogCommand, Data: data}), nil
}

// deps returns d with the registry in every registry's place.
func (g *registry) deps(d cpapi.Deps) cpapi.Deps {
	d.Keys, d.Workspaces, d.WorkspaceAdmin, d.Domains, d.DomainAdmin, d.Blocklist = g, g, g, g, g, g
	return d
}

func (g *registry) Workspace(id int64) (fsm.Workspace, bool)       { return g.f.Workspace(id) }
func (g *registry) WorkspaceByName(n string) (fsm.Workspace, bool) { return g.f.WorkspaceByName(n) }
func (g *registry) Workspaces() []fsm.Workspace                    { return g.f.Workspaces() }
func (g *registry) DomainVerified(d string) bool                   { return g.f.DomainVerified(d) }
func (g *registry) Domain(d string) (fsm.DomainEntry, bool)        { return g.f.Domain(d) }
func (g *registry) WorkspaceDomains(ws int64) []fsm.DomainEntry    { return g.f.WorkspaceDomains(ws) }
func (g *registry) BlockedDomains() []string                       { return g.f.BlockedDomains() }
func (g *registry) DomainBlocked(host string) bool                 { return g.f.DomainBlocked(host) }

func (g *registry) SetDomainBlocked(_ context.Context, domain string, blocked bool) error {
	r, err := g.apply(fsm.SetDomainBlocked{Domain: domain, Blocked: blocked})
	if err != nil {
		return err
	}
	return r.(*fsm.DomainResult).Err
}

func (g *registry) ws(c fsm.Command) (fsm.Workspace, error) {
	r, err := g.apply(c)
	if err != nil {
		return fsm.Workspace{}, err
	}
	res := r.(*fsm.WorkspaceResult)
	return res.Workspace, res.Err
}

func (g *registry) dom(c fsm.Command) (fsm.DomainEntry, error) {
	r, err := g.apply(c)
	if err != nil {
		return fsm.DomainEntry{}, err
	}
	res := r.(*fsm.DomainEntryResult)
	return res.Domain, res.Err
}

func (g *registry) DeleteWorkspace(_ context.Context, id int64) (fsm.Workspace, error) {
	return g.ws(fsm.DeleteWorkspace{ID: id})
}

func (g *registry) CreateWorkspace(_ context.Context, c fsm.CreateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

func (g *registry) UpdateWorkspace(_ context.Context, c fsm.UpdateWorkspace) (fsm.Workspace, error) {
	return g.ws(c)
}

func (g *registry) AddDomain(_ context.Context, c fsm.AddDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *registry) VerifyDomain(_ context.Context, c fsm.VerifyDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *registry) SetDomainSettings(_ context.Context, c fsm.SetDomainSettings) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func (g *registry) DeleteDomain(_ context.Context, c fsm.DeleteDomain) (fsm.DomainEntry, error) {
	return g.dom(c)
}

func keyRecordOf(e fsm.KeyEntry) cpapi.KeyRecord {
	r := cpapi.KeyRecord{ID: e.ID, Name: e.Name, Role: apikey.Role(e.Role), CreatedAt: time.UnixMilli(e.CreatedMs).UTC(), Revoked: e.Revoked(), Workspace: e.Workspace}
	copy(r.Hash[:], e.Hash)
	return r
}

func (g *registry) LookupKey(id string) (cpapi.KeyRecord, bool) {
	e, ok := g.f.APIKey(id)
	if !ok {
		return cpapi.KeyRecord{}, false
	}
	return keyRecordOf(e), true
}

func (g *registry) ListKeys() []cpapi.KeyRecord {
	var out []cpapi.KeyRecord
	for _, e := range g.f.APIKeys() {
		out = append(out, keyRecordOf(e))
	}
	return out
}

func (g *registry) AddKey(_ context.Context, r cpapi.KeyRecord) error {
	res, err := g.apply(fsm.AddKey{Key: fsm.KeyEntry{ID: r.ID, Name: r.Name, Role: string(r.Role), Hash: r.Hash[:], CreatedMs: r.CreatedAt.UnixMilli(), Workspace: r.Workspace}})
	if err != nil {
		return err
	}
	return res.(*fsm.KeyResult).Err
}

func (g *registry) RevokeKey(_ context.Context, id string, at time.Time) (bool, error) {
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

// mint adds an instance admin's key and returns its secret.
func (g *registry) mint(t *testing.T) string {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddKey(t.Context(), cpapi.KeyRecord{ID: k.ID, Name: "admin", Role: apikey.Admin, Hash: k.Hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return k.Secret
}
