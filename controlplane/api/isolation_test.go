package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// workspaceDir is an in-memory api.WorkspaceDirectory, standing in for
// the Raft FSM's workspaces (which the cluster and fsm packages test).
type workspaceDir map[int64]fsm.Workspace

func (d workspaceDir) Workspace(id int64) (fsm.Workspace, bool) {
	w, ok := d[id]
	return w, ok
}

func (d workspaceDir) WorkspaceByName(name string) (fsm.Workspace, bool) {
	for _, w := range d {
		if w.Name == name {
			return w, true
		}
	}
	return fsm.Workspace{}, false
}

// domainDir is an in-memory api.DomainRegistry: the domains and their
// records.
type domainDir map[string]fsm.DomainEntry

func (d domainDir) DomainVerified(name string) bool { return d[name].Verified }

func (d domainDir) Domain(name string) (fsm.DomainEntry, bool) {
	e, ok := d[name]
	return e, ok
}

func (d domainDir) WorkspaceDomains(ws int64) []fsm.DomainEntry {
	var out []fsm.DomainEntry
	for _, e := range d {
		if e.Workspace == ws {
			out = append(out, e)
		}
	}
	return out
}

// The isolation matrix's workspaces and domains.
const (
	wsA, wsB        int64 = 2, 3
	domA, domB            = "go.a.example", "go.b.example"
	domAPending           = "pending.a.example" // registered by A, not verified
	isolationPublic       = "http://sho.test"
)

// mintIn adds a key of the role in workspace ws (0 and role admin: an
// instance admin) and returns it.
func (k *keyRing) mintIn(t testing.TB, role apikey.Role, ws int64) string {
	t.Helper()
	key, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	_ = k.AddKey(context.Background(), api.KeyRecord{ID: key.ID, Name: fmt.Sprintf("%s of %d", role, ws), Role: role,
		Hash: key.Hash, CreatedAt: time.Now(), Workspace: ws})
	return key.Secret
}

// isoEnv is an API with two workspaces, A and B, keys of each role in
// each, an instance admin, and links in each.
type isoEnv struct {
	h      http.Handler
	store  linkstore.Store
	issuer *issuer
	// reg is the real FSM behind the keys, workspaces and domains, nil
	// when the test gave its own workspace directory (then the registries
	// are in-memory stand-ins that the API reads but cannot write).
	reg *fsmRegistry
	// keys: "A viewer", "A creator", "A admin", "B …", "instance".
	keys map[string]string
	// a and b are the links of A and B: on the own host and on each's
	// custom domain, with the same alias there.
	a, b []api.Link
}

// newIsoEnv builds the matrix's API. Without deps.Workspaces, keys,
// workspaces and domains live in a real FSM (newIsoRegistry), so that the
// registry's routes write for real; with it, in the in-memory stand-ins.
func newIsoEnv(t *testing.T, store linkstore.Store, cfg api.Config, deps api.Deps) *isoEnv {
	t.Helper()
	deps.Store = store
	is := newIssuer(t, uint64(time.Now().UnixNano()%1e9))
	deps.Issuer = is
	e := &isoEnv{store: store, issuer: is, keys: map[string]string{}}
	var mint func(apikey.Role, int64) string
	if deps.Workspaces == nil {
		e.reg = newIsoRegistry(t)
		deps = e.reg.deps(deps)
		if deps.DomainVerifier == nil {
			deps.DomainVerifier = isoVerifier(t, e.reg)
		}
		mint = func(role apikey.Role, ws int64) string { return e.reg.mint(t, role, ws) }
	} else {
		ring := &keyRing{}
		deps.Keys = ring
		deps.Domains = domainDir{
			domA:        {Domain: domA, Workspace: wsA, Verified: true},
			domAPending: {Domain: domAPending, Workspace: wsA},
			domB:        {Domain: domB, Workspace: wsB, Verified: true},
		}
		mint = func(role apikey.Role, ws int64) string { return ring.mintIn(t, role, ws) }
	}
	cfg.PublicURL = isolationPublic
	h, err := api.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.keys["instance"] = mint(apikey.Admin, 0)
	for name, ws := range map[string]int64{"A": wsA, "B": wsB} {
		for _, role := range []apikey.Role{apikey.Viewer, apikey.Creator, apikey.Admin} {
			e.keys[name+" "+string(role)] = mint(role, ws)
		}
	}
	return e
}

// seed creates each workspace's links: one on the own host with a
// generated code, and the alias "promo-N" on the own host (A) or on the
// workspace's custom domain (both).
func (e *isoEnv) seed(t *testing.T) {
	t.Helper()
	alias := "promo-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	create := func(key, body string) api.Link {
		w := e.do(t, key, "POST", "/api/v1/links", body)
		if w.Code != http.StatusCreated {
			t.Fatalf("seed create %s: %d %s", body, w.Code, w.Body.String())
		}
		return decode[api.Link](t, w)
	}
	e.a = []api.Link{
		create(e.keys["A creator"], `{"url":"https://example.com/a"}`),
		create(e.keys["A creator"], `{"url":"https://example.com/a-promo","alias":"`+alias+`"}`),
		create(e.keys["A creator"], `{"url":"https://example.com/a-dom","alias":"`+alias+`","domain":"`+domA+`"}`),
	}
	e.b = []api.Link{
		create(e.keys["B creator"], `{"url":"https://example.com/b"}`),
		create(e.keys["B creator"], `{"url":"https://example.com/b-dom","alias":"`+alias+`","domain":"`+domB+`"}`),
	}
}

func (e *isoEnv) do(t *testing.T, key, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, isolationPublic+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set(api.KeyHeader, key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// linkURL is the API path of l with suffix, naming its domain.
func linkURL(l api.Link, suffix string) string {
	p := "/api/v1/links/" + l.Code + suffix
	if l.Domain != "" {
		p += "?domain=" + url.QueryEscape(l.Domain)
	}
	return p
}

// snapshot reads the links from the store as they are.
func (e *isoEnv) snapshot(t *testing.T, links []api.Link) []linkstore.Link {
	t.Helper()
	out := make([]linkstore.Link, len(links))
	for i, l := range links {
		got, err := e.store.Get(t.Context(), l.Domain, l.Code)
		if err != nil {
			t.Fatalf("Get(%q, %q): %v", l.Domain, l.Code, err)
		}
		out[i] = got
	}
	return out
}

// notWorkspaceScoped are the routes that hold nothing of a workspace's:
// public ones, the cluster's state, and the instance administrator's
// (apiauth.Check refuses a workspace's admin key on role-admin routes).
// Those that name a link by code are still in the matrix below, to prove
// that a workspace's keys never reach them.
var notWorkspaceScoped = map[string]bool{
	"GET /api/v1/healthz":                     true,
	"GET /api/v1/readyz":                      true,
	"GET /api/v1/openapi.json":                true,
	"GET /api/v1/domains/allowed":             true,
	"POST /api/v1/reports":                    true,
	"GET /report":                             true,
	"GET /api/v1/reports/form.js":             true,
	"GET /api/v1/cluster":                     true,
	"POST /api/v1/cluster/join":               true,
	"DELETE /api/v1/cluster/nodes/{id}":       true,
	"GET /api/v1/cluster/backup":              true, // an instance admin only: the whole FSM
	"GET /api/v1/admin/blocklist":             true,
	"PUT /api/v1/admin/blocklist/{domain}":    true,
	"DELETE /api/v1/admin/blocklist/{domain}": true,
	"GET /api/v1/admin/partitions":            true,
	"POST /api/v1/admin/partitions":           true,
	"DELETE /api/v1/admin/partitions/{name}":  true,
	"GET /api/v1/admin/partitions/policy":     true,
	"PUT /api/v1/admin/partitions/policy":     true,
	"GET /api/v1/admin/audit":                 true,
	"GET /api/v1/admin/reports":               true,
	"POST /api/v1/admin/reports/{id}/resolve": true,
	"GET /api/v1/admin/review":                true,
}

// byCodeCase is a route that names a link by code, called by another
// workspace's keys.
type byCodeCase struct {
	pattern, method, suffix, body string
	// minRole is the least role the route takes from a workspace key;
	// "" for the instance administrator's routes, which refuse every
	// workspace key (403).
	minRole apikey.Role
}

var byCodeCases = []byCodeCase{
	{"GET /api/v1/links/{code}", "GET", "", "", apikey.Viewer},
	{"GET /api/v1/links/{code}/qr", "GET", "/qr", "", apikey.Viewer},
	{"PATCH /api/v1/links/{code}", "PATCH", "", `{"url":"https://example.org/hijacked","disabled":true}`, apikey.Creator},
	{"DELETE /api/v1/links/{code}", "DELETE", "", "", apikey.Creator},
	{"POST /api/v1/admin/links/{code}/takedown", "POST", "/takedown", `{"reason":"mine now"}`, ""},
	{"DELETE /api/v1/admin/links/{code}/takedown", "DELETE", "/takedown", "", ""},
	{"DELETE /api/v1/admin/codes/{code}", "DELETE", "", "", ""},
	{"DELETE /api/v1/admin/review/{code}", "DELETE", "", "", ""},
}

// adminPath maps a by-code case to its path: the administrator's routes
// live under /api/v1/admin.
func (c byCodeCase) path(l api.Link) string {
	switch {
	case strings.HasPrefix(c.pattern, "POST /api/v1/admin/links/"), strings.HasPrefix(c.pattern, "DELETE /api/v1/admin/links/"):
		return strings.Replace(linkURL(l, c.suffix), "/api/v1/links/", "/api/v1/admin/links/", 1)
	case strings.HasPrefix(c.pattern, "DELETE /api/v1/admin/codes/"):
		return strings.Replace(linkURL(l, ""), "/api/v1/links/", "/api/v1/admin/codes/", 1)
	case strings.HasPrefix(c.pattern, "DELETE /api/v1/admin/review/"):
		return "/api/v1/admin/review/" + l.Code
	}
	return linkURL(l, c.suffix)
}

// isolationMatrix lists the routes the matrix covers.
func isolationMatrix() map[string]bool {
	m := map[string]bool{
		"GET /api/v1/links":       true,
		"POST /api/v1/links":      true,
		"POST /api/v1/links/bulk": true,
	}
	for _, c := range byCodeCases {
		m[c.pattern] = true
	}
	for _, r := range registryRoutes {
		m[r.pattern] = true
	}
	for _, p := range tagIsolationRoutes {
		m[p] = true
	}
	for _, p := range webhookIsolationRoutes {
		m[p] = true
	}
	return m
}

// TestIsolationCoversEveryRoute: every route is in the isolation matrix,
// or explicitly not workspace-scoped, so that a new route cannot skip the
// matrix.
func TestIsolationCoversEveryRoute(t *testing.T) {
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: openSQLite(t), Issuer: newIssuer(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	matrix := isolationMatrix()
	for _, rt := range h.Routes() {
		if !matrix[rt.Pattern] && !notWorkspaceScoped[rt.Pattern] {
			t.Errorf("route %s is not in the workspace isolation matrix (isolation_test.go): add its cases, or list it in notWorkspaceScoped with a reason", rt.Pattern)
		}
	}
}

// TestWorkspaceIsolation: a key of workspace A gets 404, exactly as for a
// code no link has, for every link of workspace B on every route that
// names a link (or the role's 403 where its role does not reach the
// route), cannot create on B's domain, does not list B's links, and
// leaves B's links as they were; the same for B's domains, keys and
// workspace on the registries' routes (isolation_admin_test.go), which
// keep B's records as they were. The instance admin sees both, and acts
// in one workspace with the Shortify-Workspace header
// (isolation_instance_test.go).
func TestWorkspaceIsolation(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newIsoEnv(t, open(t), api.Config{}, api.Deps{})
			e.seed(t)
			before, regBefore := e.snapshot(t, e.b), e.registryState()
			t.Run("links", func(t *testing.T) { testIsolatedLinks(t, e) })
			t.Run("by code", func(t *testing.T) { testIsolatedByCode(t, e) })
			t.Run("creates", func(t *testing.T) { testIsolatedCreates(t, e) })
			t.Run("header naming B", func(t *testing.T) { testLinksHeaderNamingB(t, e) })
			t.Run("registries", func(t *testing.T) { testIsolatedRegistry(t, e) })
			t.Run("own registries", func(t *testing.T) { testOwnRegistry(t, e) })
			if after := e.snapshot(t, e.b); !reflect.DeepEqual(after, before) {
				t.Errorf("B's links changed under A's keys:\n got  %+v\n want %+v", after, before)
			}
			e.wantRegistryUnchanged(t, regBefore)
			t.Run("instance admin", func(t *testing.T) { testInstanceAdminSeesAll(t, e) })
			t.Run("instance admin registries", func(t *testing.T) { testInstanceAdminRegistry(t, e) })
		})
	}
}

// linkKeys returns the links' domain/code keys.
func linkKeys(links []api.Link) map[string]bool {
	out := make(map[string]bool, len(links))
	for _, l := range links {
		out[l.Domain+"/"+l.Code] = true
	}
	return out
}

func (e *isoEnv) list(t *testing.T, key, query string, header ...string) []api.Link {
	t.Helper()
	w := e.do(t, key, "GET", "/api/v1/links?limit=1000"+query, "", header...)
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body.String())
	}
	return decode[api.LinkPage](t, w).Links
}

func testIsolatedLinks(t *testing.T, e *isoEnv) {
	for _, who := range []string{"A viewer", "A creator", "A admin"} {
		got := linkKeys(e.list(t, e.keys[who], ""))
		for k := range linkKeys(e.b) {
			if got[k] {
				t.Errorf("%s lists B's link %s", who, k)
			}
		}
		for k := range linkKeys(e.a) {
			if !got[k] {
				t.Errorf("%s does not list its own link %s", who, k)
			}
		}
		// Naming B in the header does not help: 404 as for no workspace.
		for _, ref := range []string{"bravo", strconv.FormatInt(wsB, 10)} {
			w := e.do(t, e.keys[who], "GET", "/api/v1/links", "", apiauth.WorkspaceHeader, ref)
			wantProblem(t, w, http.StatusNotFound, "")
		}
	}
	// A workspace key may name its own workspace.
	if got := linkKeys(e.list(t, e.keys["A viewer"], "", apiauth.WorkspaceHeader, "acme")); !got[e.a[0].Domain+"/"+e.a[0].Code] {
		t.Error("A's key naming its own workspace does not list A's links")
	}
}

func testIsolatedByCode(t *testing.T, e *isoEnv) {
	rank := map[apikey.Role]int{apikey.Viewer: 1, apikey.Creator: 2, apikey.Admin: 3}
	for _, c := range byCodeCases {
		for _, role := range []apikey.Role{apikey.Viewer, apikey.Creator, apikey.Admin} {
			for _, target := range e.b {
				name := fmt.Sprintf("%s/A %s/%s", c.pattern, role, linkURL(target, ""))
				w := e.do(t, e.keys["A "+string(role)], c.method, c.path(target), c.body)
				if c.minRole == "" || rank[role] < rank[c.minRole] {
					if w.Code != http.StatusForbidden {
						t.Errorf("%s: %d %s, want 403", name, w.Code, w.Body.String())
					}
					continue
				}
				// The answer is exactly that of a code no link has on
				// the same domain.
				missing := target
				missing.Code = "nosuch" + strconv.Itoa(len(target.Code))
				want := e.do(t, e.keys["A "+string(role)], c.method, c.path(missing), c.body)
				if w.Code != http.StatusNotFound || want.Code != http.StatusNotFound {
					t.Errorf("%s: %d %s (a missing code: %d), want 404", name, w.Code, w.Body.String(), want.Code)
					continue
				}
				if got, exp := w.Body.String(), strings.ReplaceAll(want.Body.String(), missing.Code, target.Code); got != exp {
					t.Errorf("%s: the 404 differs from a missing code's:\n got  %s\n want %s", name, got, exp)
				}
			}
		}
	}
	// A's own links answer on the same routes, each on its domain.
	for _, l := range e.a {
		w := e.do(t, e.keys["A viewer"], "GET", linkURL(l, ""), "")
		if w.Code != http.StatusOK {
			t.Fatalf("A's own link %s: %d %s", linkURL(l, ""), w.Code, w.Body.String())
		}
		if got := decode[api.Link](t, w); got.URL != l.URL || got.Workspace != wsA || got.Domain != l.Domain {
			t.Errorf("A's link %s: %+v, want %+v", linkURL(l, ""), got, l)
		}
		if w := e.do(t, e.keys["A viewer"], "GET", linkURL(l, "/qr"), ""); w.Code != http.StatusOK {
			t.Errorf("A's QR %s: %d", linkURL(l, "/qr"), w.Code)
		}
	}
}

func testIsolatedCreates(t *testing.T, e *isoEnv) {
	for _, who := range []string{"A creator", "A admin"} {
		for _, d := range []string{domB, "GO.B.EXAMPLE.", domAPending, "unknown.example"} {
			body := `{"url":"https://example.org/x","alias":"` + e.b[1].Code + `","domain":"` + d + `"}`
			w := e.do(t, e.keys[who], "POST", "/api/v1/links", body)
			p := wantProblem(t, w, http.StatusBadRequest, "is not a verified domain of this workspace")
			if p.Field != "domain" {
				t.Errorf("%s create on %s: field %q, want domain", who, d, p.Field)
			}
			w = e.do(t, e.keys[who], "POST", "/api/v1/links/bulk", `{"links":[`+body+`]}`)
			if w.Code != http.StatusOK {
				t.Fatalf("%s bulk on %s: %d %s", who, d, w.Code, w.Body.String())
			}
			if res := decode[api.BulkResponse](t, w); res.Created != 0 || res.Results[0].Status != http.StatusBadRequest ||
				!strings.Contains(res.Results[0].Error.Detail, "is not a verified domain of this workspace") {
				t.Errorf("%s bulk on %s: %+v", who, d, res)
			}
		}
	}
	// A bulk of A's lands in A, never in B, whatever its items say.
	w := e.do(t, e.keys["A creator"], "POST", "/api/v1/links/bulk",
		`{"links":[{"url":"https://example.org/bulk-a"},{"url":"https://example.org/bulk-a-dom","domain":"`+domA+`"}]}`)
	res := decode[api.BulkResponse](t, w)
	if w.Code != http.StatusOK || res.Created != 2 {
		t.Fatalf("A's bulk: %d %s", w.Code, w.Body.String())
	}
	for _, r := range res.Results {
		if r.Link.Workspace != wsA {
			t.Errorf("A's bulk created %s in workspace %d", r.Link.Code, r.Link.Workspace)
		}
	}
}

func testInstanceAdminSeesAll(t *testing.T, e *isoEnv) {
	admin := e.keys["instance"]
	// Over every workspace (other tests' links among them: the alias's
	// prefix keeps the listing to this test's).
	all := linkKeys(e.list(t, admin, "&prefix="+e.b[1].Code))
	for _, l := range []api.Link{e.a[1], e.a[2], e.b[1]} {
		if !all[l.Domain+"/"+l.Code] {
			t.Errorf("the instance admin does not list %s/%s", l.Domain, l.Code)
		}
	}
	for _, l := range append(append([]api.Link(nil), e.a...), e.b...) {
		w := e.do(t, admin, "GET", linkURL(l, ""), "")
		if w.Code != http.StatusOK {
			t.Errorf("the instance admin's GET %s: %d", linkURL(l, ""), w.Code)
		}
	}
	// Acting in A, it sees A's links only, as A's keys do.
	for _, l := range e.b {
		if w := e.do(t, admin, "GET", linkURL(l, ""), "", apiauth.WorkspaceHeader, "acme"); w.Code != http.StatusNotFound {
			t.Errorf("the instance admin acting in A reads B's %s: %d, want 404", linkURL(l, ""), w.Code)
		}
	}
	onlyB := linkKeys(e.list(t, admin, "", apiauth.WorkspaceHeader, "bravo"))
	for k := range linkKeys(e.a) {
		if onlyB[k] {
			t.Errorf("the instance admin acting in B lists A's link %s", k)
		}
	}
	// Acting in B, it creates in B, on B's domain; acting in none, in the
	// default workspace.
	w := e.do(t, admin, "POST", "/api/v1/links", `{"url":"https://example.org/for-b","domain":"`+domB+`"}`,
		apiauth.WorkspaceHeader, strconv.FormatInt(wsB, 10))
	if w.Code != http.StatusCreated {
		t.Fatalf("the instance admin's create in B: %d %s", w.Code, w.Body.String())
	}
	if l := decode[api.Link](t, w); l.Workspace != wsB || l.ShortURL != "https://"+domB+"/"+l.Code {
		t.Errorf("the instance admin's create in B: %+v", l)
	}
	w = e.do(t, admin, "POST", "/api/v1/links", `{"url":"https://example.org/default"}`)
	if l := decode[api.Link](t, w); w.Code != http.StatusCreated || l.Workspace != workspace.DefaultID {
		t.Errorf("the instance admin's create without a workspace: %d %+v", w.Code, l)
	}
	// The instance's routes by code take the domain.
	takedown := strings.Replace(linkURL(e.b[1], "/takedown"), "/api/v1/links/", "/api/v1/admin/links/", 1)
	if w := e.do(t, admin, "POST", takedown, `{"reason":"spam"}`); w.Code != http.StatusOK {
		t.Errorf("takedown of B's domain link: %d %s", w.Code, w.Body.String())
	}
	if l, err := e.store.Get(t.Context(), "", e.b[1].Code); err == nil && l.TakenDown() {
		t.Error("the takedown on B's domain took down the own host's link of the same alias")
	}
	if w := e.do(t, admin, "DELETE", takedown, ""); w.Code != http.StatusOK {
		t.Errorf("lifting the takedown: %d %s", w.Code, w.Body.String())
	}
	var body map[string]any
	_ = json.Unmarshal(e.do(t, admin, "GET", linkURL(e.b[1], ""), "").Body.Bytes(), &body)
	if body["domain"] != domB || body["workspace"] != float64(wsB) {
		t.Errorf("B's domain link as JSON: %v", body)
	}
}
