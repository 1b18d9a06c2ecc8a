package api_test

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// domainNames lists the domains GET /api/v1/domains shows key (acting in
// the workspace ws names, if any).
func (e *isoEnv) domainNames(t *testing.T, key, ws string) []string {
	t.Helper()
	var header []string
	if ws != "" {
		header = []string{apiauth.WorkspaceHeader, ws}
	}
	w := e.do(t, key, "GET", "/api/v1/domains", "", header...)
	wantStatusOf(t, w, http.StatusOK)
	var out []string
	for _, d := range decode[map[string][]api.DomainInfo](t, w)["domains"] {
		out = append(out, d.Domain)
	}
	slices.Sort(out)
	return out
}

// testInstanceAdminRegistry: the instance admin sees and acts on A's and
// B's domains, keys and workspaces, over every workspace (no header) or
// in the one the header names; in one, the other's domains and keys are
// a 404 as for none. It runs last: it changes B, and deletes it.
func testInstanceAdminRegistry(t *testing.T, e *isoEnv) {
	t.Run("domains", func(t *testing.T) { testInstanceAdminDomains(t, e) })
	t.Run("keys", func(t *testing.T) { testInstanceAdminKeys(t, e) })
	t.Run("workspaces", func(t *testing.T) { testInstanceAdminWorkspaces(t, e) })
}

func testInstanceAdminDomains(t *testing.T, e *isoEnv) {
	root := e.keys["instance"]
	if got, want := e.domainNames(t, root, ""), []string{domA, domB, domDefault, domAPending, domBPending}; !slices.Equal(got, want) {
		t.Errorf("the instance admin lists %v, want %v", got, want)
	}
	for ws, want := range map[string][]string{"acme": {domA, domAPending}, "bravo": {domB, domBPending}, strconv.FormatInt(wsB, 10): {domB, domBPending}} {
		if got := e.domainNames(t, root, ws); !slices.Equal(got, want) {
			t.Errorf("the instance admin in %s lists %v, want %v", ws, got, want)
		}
	}
	for _, ws := range []string{"", "bravo", strconv.FormatInt(wsB, 10)} {
		w := e.do(t, root, "GET", "/api/v1/domains/"+domB, "", wsHeader(ws)...)
		wantStatusOf(t, w, http.StatusOK)
		if d := decode[api.DomainInfo](t, w); d.Workspace != wsB || d.RootRedirect != bSettings.RootRedirect {
			t.Errorf("B's domain to the instance admin (header %q): %+v", ws, d)
		}
	}
	// Acting in A, B's domain is unknown, as to A's keys.
	get := func(ref string) (string, string, string, []string) {
		return "GET", "/api/v1/domains/" + ref, "", wsHeader("acme")
	}
	e.wantAlike(t, "the instance admin in A on B's domain", root, http.StatusNotFound, get, domB, "nosuch.b.example")

	// It changes B's domain's settings acting in B, verifies B's pending
	// domain through DNS, and marks A's verified without.
	w := e.do(t, root, "PATCH", "/api/v1/domains/"+domB, `{"redirect_status":308}`, wsHeader(strconv.FormatInt(wsB, 10))...)
	wantStatusOf(t, w, http.StatusOK)
	if d, _ := e.reg.Domain(domB); d.Settings.RedirectStatus != 308 || d.Settings.RootRedirect != bSettings.RootRedirect {
		t.Errorf("B's domain after the instance admin's PATCH: %+v", d)
	}
	wantStatusOf(t, e.do(t, root, "POST", "/api/v1/domains/"+domBPending+"/verify", "", wsHeader("bravo")...), http.StatusOK)
	wantStatusOf(t, e.do(t, root, "PATCH", "/api/v1/domains/"+domAPending, `{"verified":true}`), http.StatusOK)
	for _, d := range []string{domBPending, domAPending} {
		if !e.reg.DomainVerified(d) {
			t.Errorf("%s is not verified after the instance admin's call", d)
		}
	}
	// It registers in the workspace it names (none: the default one), and
	// deletes anywhere.
	for ws, want := range map[string]int64{"bravo": wsB, "": workspace.DefaultID} {
		name := "new" + ws + ".b.example"
		w := e.do(t, root, "POST", "/api/v1/domains", `{"domain":"`+name+`"}`, wsHeader(ws)...)
		wantStatusOf(t, w, http.StatusCreated)
		if d := decode[api.DomainInfo](t, w); d.Workspace != want {
			t.Errorf("the instance admin's domain (header %q): workspace %d, want %d", ws, d.Workspace, want)
		}
		wantStatusOf(t, e.do(t, root, "DELETE", "/api/v1/domains/"+name, "", wsHeader(ws)...), http.StatusNoContent)
		if _, ok := e.reg.Domain(name); ok {
			t.Errorf("%s outlived its delete", name)
		}
	}
}

func testInstanceAdminKeys(t *testing.T, e *isoEnv) {
	root := e.keys["instance"]
	all := e.listKeyIDs(t, root, "")
	for _, name := range []string{"instance", "A viewer", "A admin", "B viewer", "B admin"} {
		if !slices.Contains(all, e.keyID(t, name)) {
			t.Errorf("the instance admin does not list %s's key", name)
		}
	}
	// Acting in B: B's keys, and no instance admin's.
	if got, want := e.listKeyIDs(t, root, "bravo"), e.keyIDs(t, "B viewer", "B creator", "B admin"); !slices.Equal(got, want) {
		t.Errorf("the instance admin in B lists %v, want %v", got, want)
	}
	for _, tc := range []struct {
		ws, body string
		want     int64
	}{
		{"bravo", `{"name":"for-b","role":"viewer"}`, wsB},
		{"", `{"name":"for-a","role":"creator","workspace":"acme"}`, wsA},
		{"", `{"name":"for-b2","role":"admin","workspace":` + strconv.FormatInt(wsB, 10) + `}`, wsB},
	} {
		w := e.do(t, root, "POST", "/api/v1/admin/keys", tc.body, wsHeader(tc.ws)...)
		wantStatusOf(t, w, http.StatusCreated)
		k := decode[api.NewKey](t, w)
		if k.Workspace != tc.want || k.InstanceAdmin {
			t.Errorf("%s (header %q): %+v, want a key of workspace %d", tc.body, tc.ws, k.KeyInfo, tc.want)
		}
		if code := e.do(t, k.Key, "GET", "/api/v1/links?limit=1", "").Code; code != http.StatusOK {
			t.Errorf("the new key of workspace %d: %d", k.Workspace, code)
		}
	}
	// Revocation: B's key over every workspace, A's acting in A; the
	// instance admin's own kind only over every workspace.
	for _, tc := range []struct{ name, ws string }{{"B viewer", ""}, {"A viewer", "acme"}} {
		wantStatusOf(t, e.do(t, root, "DELETE", "/api/v1/admin/keys/"+e.keyID(t, tc.name), "", wsHeader(tc.ws)...), http.StatusNoContent)
		if code := e.do(t, e.keys[tc.name], "GET", "/api/v1/links", "").Code; code != http.StatusUnauthorized {
			t.Errorf("%s's key after its revocation: %d, want 401", tc.name, code)
		}
	}
	del := func(ref string) (string, string, string, []string) {
		return "DELETE", "/api/v1/admin/keys/" + ref, "", wsHeader("acme")
	}
	e.wantAlike(t, "the instance admin in A revoking B's key", root, http.StatusNotFound, del, e.keyID(t, "B creator"), noKeyID)
	e.wantAlike(t, "the instance admin in A revoking an instance admin's key", root, http.StatusNotFound, del, e.keyID(t, "instance"), noKeyID)
}

func testInstanceAdminWorkspaces(t *testing.T, e *isoEnv) {
	root := e.keys["instance"]
	for _, ws := range []string{"", "acme", "bravo"} {
		w := e.do(t, root, "GET", "/api/v1/workspaces", "", wsHeader(ws)...)
		wantStatusOf(t, w, http.StatusOK)
		var names []string
		for _, w := range decode[map[string][]api.WorkspaceInfo](t, w)["workspaces"] {
			names = append(names, w.Name)
		}
		if want := []string{workspace.DefaultName, "acme", "bravo"}; !slices.Equal(names, want) {
			t.Errorf("the instance admin (header %q) lists %v, want %v", ws, names, want)
		}
		for ref, id := range map[string]int64{"acme": wsA, "bravo": wsB, strconv.FormatInt(wsA, 10): wsA, strconv.FormatInt(wsB, 10): wsB} {
			w := e.do(t, root, "GET", "/api/v1/workspaces/"+ref, "", wsHeader(ws)...)
			wantStatusOf(t, w, http.StatusOK)
			if got := decode[api.WorkspaceInfo](t, w); got.ID != id {
				t.Errorf("GET /api/v1/workspaces/%s (header %q): %+v", ref, ws, got)
			}
		}
	}
	// The workspace routes are the instance's: acting in A, it renames B
	// and back, and creates and deletes a workspace.
	w := e.do(t, root, "PATCH", "/api/v1/workspaces/bravo", `{"name":"bravo-two","limits":{"max_domains":9}}`, wsHeader("acme")...)
	wantStatusOf(t, w, http.StatusOK)
	if ws, _ := e.reg.Workspace(wsB); ws.Name != "bravo-two" || ws.Limits.MaxDomains != 9 {
		t.Errorf("B after the instance admin's PATCH: %+v", ws)
	}
	wantStatusOf(t, e.do(t, root, "PATCH", "/api/v1/workspaces/"+strconv.FormatInt(wsB, 10), `{"name":"bravo"}`), http.StatusOK)
	w = e.do(t, root, "POST", "/api/v1/workspaces", `{"name":"charlie"}`, wsHeader("bravo")...)
	wantStatusOf(t, w, http.StatusCreated)
	wantStatusOf(t, e.do(t, root, "DELETE", "/api/v1/workspaces/charlie", "", wsHeader("acme")...), http.StatusNoContent)

	// B holds links: refused, then emptied and deleted on request; A's
	// links stay.
	wantProblem(t, e.do(t, root, "DELETE", "/api/v1/workspaces/bravo", ""), http.StatusConflict, "workspace bravo holds")
	for _, l := range e.b {
		if _, err := e.store.Get(t.Context(), l.Domain, l.Code); err != nil {
			t.Errorf("a refused delete touched B's link %s/%s: %v", l.Domain, l.Code, err)
		}
	}
	wantStatusOf(t, e.do(t, root, "DELETE", "/api/v1/workspaces/bravo?delete_links=true", "", wsHeader("bravo")...), http.StatusNoContent)
	for _, l := range e.b {
		if _, err := e.store.Get(t.Context(), l.Domain, l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("B's link %s/%s after B's delete: %v, want gone", l.Domain, l.Code, err)
		}
	}
	for _, l := range e.a {
		if _, err := e.store.Get(t.Context(), l.Domain, l.Code); err != nil {
			t.Errorf("A's link %s/%s after B's delete: %v", l.Domain, l.Code, err)
		}
	}
	if got := e.reg.WorkspaceDomains(wsB); len(got) != 0 {
		t.Errorf("B's domains outlived it: %+v", got)
	}
	if code := e.do(t, e.keys["B admin"], "GET", "/api/v1/domains", "").Code; code != http.StatusUnauthorized {
		t.Errorf("B's admin key after B's delete: %d, want 401", code)
	}
	if ws, ok := e.reg.Workspace(wsA); !ok || ws.Name != "acme" {
		t.Errorf("A after B's delete: %+v (%v)", ws, ok)
	}
	if _, ok := e.reg.Workspace(wsB); ok {
		t.Error("B outlived its delete")
	}
	if got := e.domainNames(t, root, "acme"); !slices.Equal(got, []string{domA, domAPending}) {
		t.Errorf("A's domains after B's delete: %v", got)
	}
}

// wsHeader is the Shortify-Workspace header naming ws, none for "".
func wsHeader(ws string) []string {
	if ws == "" {
		return nil
	}
	return []string{apiauth.WorkspaceHeader, ws}
}
