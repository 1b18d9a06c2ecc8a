package api_test

import (
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/apitest"
)

// fsmRegistry is the replicated registries (keys, workspaces, domains) on
// a real FSM applied in process, without Raft (apitest.Registry), with
// the short names these tests use.
type fsmRegistry struct{ *apitest.Registry }

func newRegistry() *fsmRegistry { return &fsmRegistry{apitest.NewRegistry()} }

// mint adds a key of the role in workspace ws (0 with role admin: an
// instance admin) and returns its secret.
func (g *fsmRegistry) mint(t testing.TB, role apikey.Role, ws int64) string {
	return g.Mint(t, role, ws)
}

// mustWorkspace creates a workspace and returns its ID.
func (g *fsmRegistry) mustWorkspace(t testing.TB, name string) int64 {
	return g.MustWorkspace(t, name)
}

// deps returns d with the registry in every registry's place.
func (g *fsmRegistry) deps(d api.Deps) api.Deps { return g.Deps(d) }
