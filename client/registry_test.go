package client_test

import (
	"testing"

	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/apitest"
)

// registry is the replicated registries (keys, workspaces, domains,
// blocklist) on a real FSM applied in process, without Raft, as the
// API's own tests keep them (apitest.Registry).
type registry struct{ *apitest.Registry }

func newRegistry() *registry { return &registry{apitest.NewRegistry()} }

// deps returns d with the registry in every registry's place, the
// blocklist's too.
func (g *registry) deps(d cpapi.Deps) cpapi.Deps {
	d = g.Deps(d)
	d.Blocklist = g
	return d
}

// mint adds an instance admin's key and returns its secret.
func (g *registry) mint(t *testing.T) string { return g.Mint(t, apikey.Admin, 0) }
