package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
	"github.com/shortify/shortify/internal/workspace"
)

// The registry matrix's domains beyond isolation_test.go's.
const (
	// domBPending is B's, not verified, and its challenge is published in
	// DNS: a verify by A's keys would succeed if it got past the check.
	domBPending = "pending.b.example"
	// domDefault is the default workspace's: a domain that a workspace
	// other than B holds.
	domDefault = "go.default.example"
	// The stand-ins that name nothing: a workspace (by name and by ID) and
	// a key ID (apikey.IDLen characters).
	noWorkspace, noWorkspaceID = "nosuch-ws", "987654321"
	noKeyID                    = "AAAAAAAAAAAA"
	isoRegistryMs              = 1_700_000_000_000
)

// bSettings are the settings of B's verified domain, which A's keys must
// leave as they are.
var bSettings = fsm.DomainSettings{RootRedirect: "https://b.example/", NotFoundRedirect: "https://b.example/404", RedirectStatus: 307}

// newIsoRegistry is a real FSM with the matrix's workspaces (acme = A,
// bravo = B) and domains: each workspace's verified domain and pending
// one, and a domain of the default workspace.
func newIsoRegistry(t *testing.T) *fsmRegistry {
	t.Helper()
	reg := newRegistry()
	for _, w := range []struct {
		name string
		id   int64
	}{{"acme", wsA}, {"bravo", wsB}} {
		if id := reg.mustWorkspace(t, w.name); id != w.id {
			t.Fatalf("workspace %s got ID %d, want %d", w.name, id, w.id)
		}
	}
	ctx := context.Background()
	for _, d := range []struct {
		domain   string
		ws       int64
		verified bool
		settings fsm.DomainSettings
	}{
		{domA, wsA, true, fsm.DomainSettings{}},
		{domAPending, wsA, false, fsm.DomainSettings{}},
		{domB, wsB, true, bSettings},
		{domBPending, wsB, false, fsm.DomainSettings{}},
		{domDefault, workspace.DefaultID, true, fsm.DomainSettings{}},
	} {
		challenge, err := domainverify.NewChallenge()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.AddDomain(ctx, fsm.AddDomain{Domain: d.domain, Workspace: d.ws, Challenge: challenge, Settings: d.settings, AtMs: isoRegistryMs}); err != nil {
			t.Fatalf("add %s: %v", d.domain, err)
		}
		if d.verified {
			if _, err := reg.VerifyDomain(ctx, fsm.VerifyDomain{Domain: d.domain, Workspace: d.ws, AtMs: isoRegistryMs + 1}); err != nil {
				t.Fatalf("verify %s: %v", d.domain, err)
			}
		}
	}
	return reg
}

// isoVerifier asks a real DNS server on loopback that publishes the
// challenge of B's pending domain, and no other.
func isoVerifier(t *testing.T, reg *fsmRegistry) api.DomainVerifier {
	t.Helper()
	d, ok := reg.Domain(domBPending)
	if !ok {
		t.Fatal("no pending domain of B")
	}
	addr := targeturltest.DNSServerAddr(t, nil, map[string][]string{
		domainverify.RecordName(domBPending): {domainverify.RecordValue(d.Challenge)},
	})
	return domainverify.Verifier{Resolver: addr}
}

// keyID is the ID of the matrix's key by name ("A viewer", "instance").
func (e *isoEnv) keyID(t *testing.T, name string) string {
	t.Helper()
	id, err := apikey.Parse(e.keys[name])
	if err != nil {
		t.Fatalf("key %s: %v", name, err)
	}
	return id
}

// isoReq builds a request on ref: its method, path, body and headers.
type isoReq func(ref string) (method, path, body string, header []string)

// wantAlike sends req on target and on missing (which names nothing, or
// is held by a third workspace) with key, wants status from both, and the
// same body but for the name: a workspace's key learns nothing more of
// another's things than of things that do not exist.
func (e *isoEnv) wantAlike(t *testing.T, name, key string, status int, req isoReq, target, missing string) {
	t.Helper()
	call := func(ref string) *httptest.ResponseRecorder {
		method, path, body, header := req(ref)
		return e.do(t, key, method, path, body, header...)
	}
	got, want := call(target), call(missing)
	if got.Code != status || want.Code != status {
		t.Errorf("%s: %d %s (for %q: %d), want %d", name, got.Code, got.Body.String(), missing, want.Code, status)
		return
	}
	if g, w := got.Body.String(), strings.ReplaceAll(want.Body.String(), missing, target); g != w {
		t.Errorf("%s: the answer differs from that for %q:\n got  %s\n want %s", name, missing, g, w)
	}
}

// refPair is one of B's things and its stand-in that names nothing.
type refPair struct{ b, missing string }

// registryRoute is a route of the key, workspace or domain registries, as
// the matrix calls it.
type registryRoute struct {
	pattern string
	// variant names a second case of the same route.
	variant string
	// minRole is the least role of a workspace's key the route takes; ""
	// for the instance admin's routes, which refuse every workspace key.
	minRole apikey.Role
	// path and body of the request on a thing ({x}: a domain, key ID or
	// workspace reference).
	path, body string
	// bThings are B's things to try (none for a collection).
	bThings func(e *isoEnv, t *testing.T) []refPair
	// bStatus is what A's admin gets for them: 404 unless set.
	bStatus int
	// aThing is one of A's own, which a header naming B must not reach.
	aThing func(e *isoEnv, t *testing.T) string
}

func (r registryRoute) req(ref string, header ...string) (method, path, body string, hdr []string) {
	method, _, _ = strings.Cut(r.pattern, " ")
	return method, strings.ReplaceAll(r.path, "{x}", ref), strings.ReplaceAll(r.body, "{x}", ref), header
}

func bDomains(*isoEnv, *testing.T) []refPair {
	return []refPair{{domB, "nosuch.b.example"}, {domBPending, "nosuch.pending.b.example"}}
}

func bWorkspaceRefs(*isoEnv, *testing.T) []refPair {
	return []refPair{{"bravo", noWorkspace}, {strconv.FormatInt(wsB, 10), noWorkspaceID}}
}

// allWorkspaceRefs are B's and, for the instance admin's routes, A's own.
func allWorkspaceRefs(e *isoEnv, t *testing.T) []refPair {
	return append(bWorkspaceRefs(e, t), refPair{"acme", noWorkspace}, refPair{strconv.FormatInt(wsA, 10), noWorkspaceID})
}

func bKeys(e *isoEnv, t *testing.T) []refPair {
	var out []refPair
	for _, name := range []string{"B viewer", "B creator", "B admin", "instance"} {
		out = append(out, refPair{e.keyID(t, name), noKeyID})
	}
	return out
}

func constRef(s string) func(*isoEnv, *testing.T) string {
	return func(*isoEnv, *testing.T) string { return s }
}

// registryRoutes are the registries' routes of the matrix.
var registryRoutes = []registryRoute{
	{pattern: "GET /api/v1/domains", minRole: apikey.Admin, path: "/api/v1/domains", aThing: constRef("")},
	{pattern: "POST /api/v1/domains", minRole: apikey.Admin, path: "/api/v1/domains", body: `{"domain":"{x}"}`,
		// B's domain is taken, as one of the default workspace's is.
		bThings: func(*isoEnv, *testing.T) []refPair {
			return []refPair{{domB, domDefault}, {domBPending, domDefault}, {"GO.B.EXAMPLE.", domDefault}}
		},
		bStatus: http.StatusConflict, aThing: constRef("new.a.example")},
	{pattern: "GET /api/v1/domains/{domain}", minRole: apikey.Admin, path: "/api/v1/domains/{x}", bThings: bDomains, aThing: constRef(domA)},
	{pattern: "PATCH /api/v1/domains/{domain}", minRole: apikey.Admin, path: "/api/v1/domains/{x}",
		body: `{"root_redirect":"https://example.org/hijacked","not_found_redirect":"","redirect_status":302}`, bThings: bDomains, aThing: constRef(domA)},
	{pattern: "PATCH /api/v1/domains/{domain}", minRole: apikey.Admin, path: "/api/v1/domains/{x}", variant: "verified", body: `{"verified":true}`, bThings: bDomains, aThing: constRef(domAPending)},
	{pattern: "DELETE /api/v1/domains/{domain}", minRole: apikey.Admin, path: "/api/v1/domains/{x}", bThings: bDomains, aThing: constRef(domA)},
	{pattern: "POST /api/v1/domains/{domain}/verify", minRole: apikey.Admin, path: "/api/v1/domains/{x}/verify", bThings: bDomains, aThing: constRef(domAPending)},

	{pattern: "GET /api/v1/admin/keys", minRole: apikey.Admin, path: "/api/v1/admin/keys", aThing: constRef("")},
	{pattern: "POST /api/v1/admin/keys", minRole: apikey.Admin, path: "/api/v1/admin/keys", body: `{"name":"mole","role":"viewer","workspace":"{x}"}`,
		bThings: bWorkspaceRefs, aThing: constRef("acme")},
	{pattern: "POST /api/v1/admin/keys", minRole: apikey.Admin, path: "/api/v1/admin/keys", variant: "admin by ID", body: `{"name":"mole","role":"admin","workspace":{x}}`,
		bThings: func(*isoEnv, *testing.T) []refPair {
			return []refPair{{strconv.FormatInt(wsB, 10), noWorkspaceID}}
		}, aThing: constRef(strconv.FormatInt(wsA, 10))},
	{pattern: "DELETE /api/v1/admin/keys/{id}", minRole: apikey.Admin, path: "/api/v1/admin/keys/{x}", bThings: bKeys,
		aThing: func(e *isoEnv, t *testing.T) string { return e.keyID(t, "A viewer") }},

	{pattern: "GET /api/v1/workspaces", path: "/api/v1/workspaces", aThing: constRef("")},
	{pattern: "POST /api/v1/workspaces", path: "/api/v1/workspaces", body: `{"name":"{x}"}`, aThing: constRef("mine")},
	{pattern: "GET /api/v1/workspaces/{id}", path: "/api/v1/workspaces/{x}", bThings: allWorkspaceRefs, aThing: constRef("acme")},
	{pattern: "PATCH /api/v1/workspaces/{id}", path: "/api/v1/workspaces/{x}", body: `{"name":"hijacked","limits":{"max_links":1}}`,
		bThings: allWorkspaceRefs, aThing: constRef("acme")},
	{pattern: "DELETE /api/v1/workspaces/{id}", path: "/api/v1/workspaces/{x}", bThings: allWorkspaceRefs, aThing: constRef("acme")},
	{pattern: "DELETE /api/v1/workspaces/{id}", variant: "delete_links", path: "/api/v1/workspaces/{x}?delete_links=true", bThings: allWorkspaceRefs, aThing: constRef("acme")},
}

// reaches tells whether a workspace key of the role gets past the route's
// role check.
func (r registryRoute) reaches(role apikey.Role) bool {
	return r.minRole != "" && role.Allows(r.minRole)
}

// testIsolatedRegistry: on every route of the key, workspace and domain
// registries, every key of A gets for B's things (B's domains, B's keys,
// B's workspace) what it gets for things that do not exist: 404 where its
// role reaches the route (409 "taken" for registering B's domain, as for
// any other workspace's), else the role's 403, byte for byte alike; a
// header naming B is a 404 as for a workspace that does not exist (a 403
// where the role falls short: the role check comes first); the instance
// admin's routes are a 403 for every workspace key, A's own workspace
// included.
func testIsolatedRegistry(t *testing.T, e *isoEnv) {
	for _, rt := range registryRoutes {
		t.Run(strings.TrimSpace(rt.pattern+" "+rt.variant), func(t *testing.T) {
			for _, role := range []apikey.Role{apikey.Viewer, apikey.Creator, apikey.Admin} {
				who := "A " + string(role)
				key := e.keys[who]
				refused := !rt.reaches(role)
				if rt.bThings != nil {
					status := cmpStatus(refused, rt.bStatus)
					for _, p := range rt.bThings(e, t) {
						e.wantAlike(t, fmt.Sprintf("%s on B's %s", who, p.b), key, status,
							func(ref string) (string, string, string, []string) { return rt.req(ref) }, p.b, p.missing)
					}
				}
				own := rt.aThing(e, t)
				status := cmpStatus(refused, http.StatusNotFound)
				for _, p := range bWorkspaceRefs(e, t) {
					e.wantAlike(t, fmt.Sprintf("%s on its own %q, header naming B as %s", who, own, p.b), key, status,
						func(ref string) (string, string, string, []string) {
							return rt.req(own, apiauth.WorkspaceHeader, ref)
						}, p.b, p.missing)
				}
				if refused {
					method, path, body, _ := rt.req(own)
					if w := e.do(t, key, method, path, body); w.Code != http.StatusForbidden {
						t.Errorf("%s %s %s: %d %s, want 403", who, method, path, w.Code, w.Body.String())
					}
				}
			}
		})
	}
	admin := e.keys["A admin"]
	// The listings hold A's things only.
	w := e.do(t, admin, "GET", "/api/v1/domains", "")
	wantStatusOf(t, w, http.StatusOK)
	var domains []string
	for _, d := range decode[map[string][]api.DomainInfo](t, w)["domains"] {
		domains = append(domains, d.Domain)
	}
	if want := []string{domA, domAPending}; !slices.Equal(domains, want) {
		t.Errorf("A's admin lists the domains %v, want %v", domains, want)
	}
	if got, want := e.listKeyIDs(t, admin, ""), e.keyIDs(t, "A viewer", "A creator", "A admin"); !slices.Equal(got, want) {
		t.Errorf("A's admin lists the keys %v, want A's %v", got, want)
	}
}

// cmpStatus is 403 for a refused role, else status (404 when 0).
func cmpStatus(refused bool, status int) int {
	switch {
	case refused:
		return http.StatusForbidden
	case status == 0:
		return http.StatusNotFound
	}
	return status
}

// listKeyIDs is the sorted IDs of the keys GET /api/v1/admin/keys lists
// to key (acting in the workspace ws names, if any).
func (e *isoEnv) listKeyIDs(t *testing.T, key, ws string) []string {
	t.Helper()
	var header []string
	if ws != "" {
		header = []string{apiauth.WorkspaceHeader, ws}
	}
	w := e.do(t, key, "GET", "/api/v1/admin/keys", "", header...)
	wantStatusOf(t, w, http.StatusOK)
	var ids []string
	for _, k := range decode[map[string][]api.KeyInfo](t, w)["keys"] {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	return ids
}

// keyIDs is the sorted IDs of the named keys.
func (e *isoEnv) keyIDs(t *testing.T, names ...string) []string {
	t.Helper()
	var ids []string
	for _, n := range names {
		ids = append(ids, e.keyID(t, n))
	}
	slices.Sort(ids)
	return ids
}

// testOwnRegistry: the same routes answer A's admin for A's own things,
// so the 404s above are not those of a route that answers nothing.
func testOwnRegistry(t *testing.T, e *isoEnv) {
	admin := e.keys["A admin"]
	w := e.do(t, admin, "GET", "/api/v1/domains/"+domA, "")
	wantStatusOf(t, w, http.StatusOK)
	if d := decode[api.DomainInfo](t, w); d.Workspace != wsA || !d.Verified {
		t.Errorf("A's domain: %+v", d)
	}
	w = e.do(t, admin, "PATCH", "/api/v1/domains/"+domA, `{"root_redirect":"https://a.example/"}`, apiauth.WorkspaceHeader, "acme")
	wantStatusOf(t, w, http.StatusOK)
	if d, _ := e.reg.Domain(domA); d.Settings.RootRedirect != "https://a.example/" {
		t.Errorf("A's domain after A's PATCH: %+v", d)
	}
	// No TXT record for A's pending domain: the verifier is asked.
	wantProblem(t, e.do(t, admin, "POST", "/api/v1/domains/"+domAPending+"/verify", ""), http.StatusUnprocessableEntity, "found no TXT record")
	w = e.do(t, admin, "POST", "/api/v1/admin/keys", `{"name":"own","role":"viewer","workspace":"acme"}`)
	wantStatusOf(t, w, http.StatusCreated)
	k := decode[api.NewKey](t, w)
	if k.Workspace != wsA {
		t.Errorf("A's new key: %+v", k)
	}
	wantStatusOf(t, e.do(t, admin, "DELETE", "/api/v1/admin/keys/"+k.ID, "", apiauth.WorkspaceHeader, strconv.FormatInt(wsA, 10)), http.StatusNoContent)
}

// isoRegistryState is what of the registries A's keys must leave alone:
// every workspace, B's and the default workspace's domains, and every key
// that is not A's.
type isoRegistryState struct {
	Workspaces []fsm.Workspace
	Domains    []fsm.DomainEntry
	Keys       []api.KeyRecord
}

func (e *isoEnv) registryState() isoRegistryState {
	s := isoRegistryState{Workspaces: e.reg.Workspaces(),
		Domains: append(e.reg.WorkspaceDomains(wsB), e.reg.WorkspaceDomains(workspace.DefaultID)...)}
	for _, k := range e.reg.ListKeys() {
		if k.Workspace != wsA {
			s.Keys = append(s.Keys, k)
		}
	}
	return s
}

// wantRegistryUnchanged compares the registries with before, and says
// what B has in plain terms.
func (e *isoEnv) wantRegistryUnchanged(t *testing.T, before isoRegistryState) {
	t.Helper()
	if after := e.registryState(); !reflect.DeepEqual(after, before) {
		t.Errorf("the registries changed under A's keys:\n got  %+v\n want %+v", after, before)
	}
	if d, ok := e.reg.Domain(domB); !ok || d.Workspace != wsB || !d.Verified || d.Settings != bSettings {
		t.Errorf("B's domain: %+v (%v)", d, ok)
	}
	if d, ok := e.reg.Domain(domBPending); !ok || d.Workspace != wsB || d.Verified {
		t.Errorf("B's pending domain: %+v (%v)", d, ok)
	}
	if ws, ok := e.reg.Workspace(wsB); !ok || ws.Name != "bravo" || ws.Limits != (fsm.WorkspaceLimits{}) {
		t.Errorf("B's workspace: %+v (%v)", ws, ok)
	}
	if _, ok := e.reg.WorkspaceByName("hijacked"); ok {
		t.Error("a workspace was renamed hijacked")
	}
	for _, name := range []string{"B viewer", "B creator", "B admin", "instance"} {
		if code := e.do(t, e.keys[name], "GET", "/api/v1/links?limit=1", "").Code; code != http.StatusOK {
			t.Errorf("%s's key after A's calls: %d, want 200 (not revoked)", name, code)
		}
	}
}

// testLinksHeaderNamingB: on every link route a workspace key reaches,
// A's keys naming B in the Shortify-Workspace header get a 404 as for a
// workspace that does not exist, even for A's own links; the role's 403
// comes first where the role falls short.
func testLinksHeaderNamingB(t *testing.T, e *isoEnv) {
	own := e.a[2] // on A's custom domain
	before := e.snapshot(t, e.a)
	cases := []struct {
		method, path, body string
		minRole            apikey.Role
	}{
		{"GET", "/api/v1/links", "", apikey.Viewer},
		{"POST", "/api/v1/links", `{"url":"https://example.org/into-b"}`, apikey.Creator},
		{"POST", "/api/v1/links/bulk", `{"links":[{"url":"https://example.org/into-b"}]}`, apikey.Creator},
	}
	for _, c := range byCodeCases {
		if c.minRole != "" {
			cases = append(cases, struct {
				method, path, body string
				minRole            apikey.Role
			}{c.method, c.path(own), c.body, c.minRole})
		}
	}
	for _, c := range cases {
		for _, role := range []apikey.Role{apikey.Viewer, apikey.Creator, apikey.Admin} {
			req := func(ref string) (string, string, string, []string) {
				return c.method, c.path, c.body, []string{apiauth.WorkspaceHeader, ref}
			}
			status := cmpStatus(!role.Allows(c.minRole), http.StatusNotFound)
			for _, p := range bWorkspaceRefs(e, t) {
				e.wantAlike(t, fmt.Sprintf("A %s %s %s, header naming B as %s", role, c.method, c.path, p.b), e.keys["A "+string(role)], status, req, p.b, p.missing)
			}
		}
	}
	if after := e.snapshot(t, e.a); !reflect.DeepEqual(after, before) {
		t.Errorf("A's links changed under calls naming B:\n got  %+v\n want %+v", after, before)
	}
}
