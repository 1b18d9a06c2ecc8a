package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/workspace"
)

// TestWorkspaceKeys: a workspace's admin makes, lists and revokes its own
// workspace's keys only (another workspace's key, or an instance admin's,
// is a 404); an instance admin makes keys anywhere and lists all, or one
// workspace's with the header.
func TestWorkspaceKeys(t *testing.T) {
	e := newWSEnv(t, wsSQLite(t), api.Config{}, api.Deps{})
	ids := func(key, ws string) []api.KeyInfo {
		w := e.call(t, key, ws, "GET", "/api/v1/admin/keys", "")
		wantStatusOf(t, w, http.StatusOK)
		return decode[map[string][]api.KeyInfo](t, w)["keys"]
	}
	create := func(key, ws, body string, status int) api.NewKey {
		t.Helper()
		w := e.call(t, key, ws, "POST", "/api/v1/admin/keys", body)
		wantStatusOf(t, w, status)
		if status != http.StatusCreated {
			return api.NewKey{}
		}
		return decode[api.NewKey](t, w)
	}

	// A workspace admin: its own workspace, whatever it names.
	v := create(e.acmeAdmin, "", `{"name":"bot","role":"viewer"}`, http.StatusCreated)
	if v.Workspace != e.acme || v.InstanceAdmin {
		t.Fatalf("acme admin's key: %+v", v)
	}
	a := create(e.acmeAdmin, "", `{"name":"deputy","role":"admin","workspace":"acme"}`, http.StatusCreated)
	if a.Workspace != e.acme || a.InstanceAdmin {
		t.Fatalf("acme admin's admin key is an instance admin: %+v", a)
	}
	create(e.acmeAdmin, "", fmt.Sprintf(`{"name":"x","role":"viewer","workspace":%d}`, e.other), http.StatusNotFound)
	create(e.acmeAdmin, "", `{"name":"x","role":"viewer","workspace":"nosuch"}`, http.StatusNotFound)
	create(e.acmeAdmin, "other", `{"name":"x","role":"viewer"}`, http.StatusNotFound)
	create(e.acmeViewer, "", `{"name":"x","role":"viewer"}`, http.StatusForbidden)

	for _, k := range ids(e.acmeAdmin, "") {
		if k.Workspace != e.acme || k.InstanceAdmin {
			t.Errorf("acme's admin sees %+v", k)
		}
	}
	if n := len(ids(e.acmeAdmin, "")); n != 4 { // admin, viewer, bot, deputy
		t.Errorf("acme's admin sees %d keys, want 4", n)
	}
	all := ids(e.root, "")
	if !slices.ContainsFunc(all, func(k api.KeyInfo) bool { return k.InstanceAdmin && k.Workspace == 0 }) ||
		!slices.ContainsFunc(all, func(k api.KeyInfo) bool { return k.Workspace == e.other }) {
		t.Errorf("the instance admin's list: %+v", all)
	}
	for _, k := range ids(e.root, "other") {
		if k.Workspace != e.other {
			t.Errorf("the instance admin in workspace other sees %+v", k)
		}
	}

	// Revocation: another workspace's key and an instance admin's are
	// unknown to a workspace's admin.
	var otherID, rootID string
	for _, k := range all {
		switch {
		case k.Workspace == e.other:
			otherID = k.ID
		case k.InstanceAdmin:
			rootID = k.ID
		}
	}
	for _, id := range []string{otherID, rootID, "AAAAAAAAAAAA"} {
		wantProblem(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/admin/keys/"+id, ""), http.StatusNotFound, "no key has the ID")
	}
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/admin/keys/"+v.ID, ""), http.StatusNoContent)
	if code := e.call(t, v.Key, "", "GET", "/api/v1/links", "").Code; code != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d", code)
	}
	// The instance admin revokes anywhere.
	wantStatusOf(t, e.call(t, e.root, "", "DELETE", "/api/v1/admin/keys/"+otherID, ""), http.StatusNoContent)

	// The instance admin: keys in any workspace, by name or ID, or of the
	// workspace the header names; without either, role admin is an
	// instance admin and a lower role the default workspace's.
	for _, tc := range []struct {
		ws, body  string
		wantWS    int64
		wantAdmin bool
	}{
		{"", `{"name":"o","role":"creator","workspace":"other"}`, e.other, false},
		{"", fmt.Sprintf(`{"name":"o","role":"admin","workspace":%d}`, e.other), e.other, false},
		{"", fmt.Sprintf(`{"name":"o","role":"viewer","workspace":"%d"}`, e.acme), e.acme, false},
		{"acme", `{"name":"o","role":"viewer"}`, e.acme, false},
		{"", `{"name":"root2","role":"admin"}`, 0, true},
		{"", `{"name":"legacy","role":"viewer"}`, workspace.DefaultID, false},
	} {
		k := create(e.root, tc.ws, tc.body, http.StatusCreated)
		if k.Workspace != tc.wantWS || k.InstanceAdmin != tc.wantAdmin {
			t.Errorf("%s (header %q): workspace %d, instance admin %v; want %d, %v", tc.body, tc.ws, k.Workspace, k.InstanceAdmin, tc.wantWS, tc.wantAdmin)
		}
	}
	create(e.root, "", `{"name":"o","role":"viewer","workspace":true}`, http.StatusBadRequest)
	create(e.root, "", `{"name":"o","role":"viewer","workspace":"nosuch"}`, http.StatusNotFound)
}
