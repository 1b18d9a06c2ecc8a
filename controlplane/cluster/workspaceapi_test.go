package cluster_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane"
	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
)

// swappableVerifier asks the DNS server whose address it holds now: the
// test starts the server once it knows the challenge.
type swappableVerifier struct{ addr atomic.Value }

func (v *swappableVerifier) Verify(ctx context.Context, domain, challenge string) error {
	addr, _ := v.addr.Load().(string)
	return domainverify.Verifier{Resolver: addr}.Verify(ctx, domain, challenge)
}

// TestWorkspaceAdminThroughFollowerAPI: on a follower's API, an instance
// admin creates a workspace and its admin key; that workspace admin adds
// and verifies (a real DNS server on loopback) a domain of its own, all
// forwarded to the leader, and every node sees it verified; it cannot
// reach another workspace's domain (404) nor the workspace routes (403).
func TestWorkspaceAdminThroughFollowerAPI(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	f := others(c.nodes, lead)[0]
	root := addKey(t, lead, "admin")
	verifier := &swappableVerifier{}
	h, err := api.New(api.Config{PublicURL: "http://sho.test", Logger: f.cfg.Logger}, api.Deps{
		Store: f.store, Issuer: f.node, Keys: controlplane.NodeKeys(f.node),
		Workspaces: f.node, WorkspaceAdmin: f.node, Domains: f.node, DomainAdmin: f.node, DomainVerifier: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	call := func(key, method, path string, body any, wantStatus int) []byte {
		t.Helper()
		status, out := do(t, method, srv.URL+path, body, map[string]string{"Authorization": "Bearer " + key})
		if status != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, wantStatus)
		}
		return out
	}
	eventually(t, 5*time.Second, "the root key on the follower", func() bool { return len(f.node.APIKeys()) > 0 })

	call(root, "POST", "/api/v1/workspaces", map[string]string{"name": "acme"}, http.StatusCreated)
	call(root, "POST", "/api/v1/workspaces", map[string]string{"name": "other"}, http.StatusCreated)
	var acmeKey, otherKey api.NewKey
	_ = json.Unmarshal(call(root, "POST", "/api/v1/admin/keys", map[string]string{"name": "acme admin", "role": "admin", "workspace": "acme"}, http.StatusCreated), &acmeKey)
	_ = json.Unmarshal(call(root, "POST", "/api/v1/admin/keys", map[string]string{"name": "other admin", "role": "admin", "workspace": "other"}, http.StatusCreated), &otherKey)
	eventually(t, 5*time.Second, "the keys on the follower", func() bool {
		_, ok := f.node.APIKey(otherKey.ID)
		return ok
	})

	var d api.DomainInfo
	_ = json.Unmarshal(call(acmeKey.Key, "POST", "/api/v1/domains", map[string]string{"domain": "go.acme.example"}, http.StatusCreated), &d)
	call(otherKey.Key, "POST", "/api/v1/domains", map[string]string{"domain": "go.acme.example"}, http.StatusConflict)
	call(otherKey.Key, "POST", "/api/v1/domains", map[string]string{"domain": "go.other.example"}, http.StatusCreated)
	eventually(t, 5*time.Second, "the domains on the follower", func() bool {
		_, ok := f.node.Domain("go.other.example")
		return ok
	})

	verifier.addr.Store(targeturltest.DNSServerAddr(t, nil, map[string][]string{d.Challenge.Name: {d.Challenge.Value}}))
	var v api.DomainInfo
	_ = json.Unmarshal(call(acmeKey.Key, "POST", "/api/v1/domains/go.acme.example/verify", nil, http.StatusOK), &v)
	if !v.Verified {
		t.Fatalf("verify: %+v", v)
	}
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "verified on "+n.cfg.NodeID, func() bool { return n.node.DomainVerified("go.acme.example") })
	}
	call(acmeKey.Key, "PATCH", "/api/v1/domains/go.acme.example", map[string]any{"redirect_status": 302}, http.StatusOK)
	call(acmeKey.Key, "DELETE", "/api/v1/domains/go.other.example", nil, http.StatusNotFound)
	call(acmeKey.Key, "GET", "/api/v1/workspaces", nil, http.StatusForbidden)
	call(acmeKey.Key, "PATCH", "/api/v1/domains/go.acme.example", map[string]any{"verified": true}, http.StatusForbidden)
	call(acmeKey.Key, "DELETE", "/api/v1/domains/go.acme.example", nil, http.StatusNoContent)
	for _, n := range c.nodes {
		eventually(t, 5*time.Second, "deleted on "+n.cfg.NodeID, func() bool { return !n.node.DomainVerified("go.acme.example") })
	}
}
