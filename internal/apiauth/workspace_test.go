package apiauth

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/shortify/shortify/internal/apikey"
)

func TestActingWorkspace(t *testing.T) {
	resolve := func(ref string) (int64, bool) {
		switch ref {
		case "1", "default":
			return 1, true
		case "7", "acme":
			return 7, true
		}
		return 0, false
	}
	instance := KeyRecord{ID: "inst", Role: apikey.Admin}
	acme := KeyRecord{ID: "acme", Role: apikey.Creator, Workspace: 7}
	for _, tc := range []struct {
		name    string
		rec     KeyRecord
		header  string
		resolve WorkspaceResolver
		want    int64
		wantErr bool
	}{
		{"instance admin, no header: every workspace", instance, "", resolve, 0, false},
		{"instance admin by ID", instance, "7", resolve, 7, false},
		{"instance admin by name", instance, "acme", resolve, 7, false},
		{"instance admin, unknown workspace", instance, "nope", resolve, 0, true},
		{"instance admin, no registry", instance, "7", nil, 0, true},
		{"workspace key, no header", acme, "", resolve, 7, false},
		{"workspace key names its own ID", acme, "7", nil, 7, false},
		{"workspace key names its own name", acme, "acme", resolve, 7, false},
		{"workspace key names another", acme, "default", resolve, 0, true},
		{"workspace key names an unknown one", acme, "nope", resolve, 0, true},
		{"key of no workspace: the default one", KeyRecord{ID: "old", Role: apikey.Viewer}, "", resolve, 1, false},
		{"key of no workspace names the default", KeyRecord{ID: "old", Role: apikey.Viewer}, "default", resolve, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set(WorkspaceHeader, tc.header)
			}
			got, err := ActingWorkspace(r, tc.rec, tc.resolve)
			if tc.wantErr != (err != nil) || got != tc.want {
				t.Fatalf("ActingWorkspace = %d, %v; want %d, error %t", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoWorkspace) {
				t.Fatalf("error %v does not wrap ErrNoWorkspace", err)
			}
		})
	}
}

func TestResolver(t *testing.T) {
	byID := func(id int64) bool { return id == 1 || id == 7 }
	byName := func(name string) (int64, bool) {
		if name == "acme" {
			return 7, true
		}
		return 0, false
	}
	for _, tc := range []struct {
		name    string
		resolve WorkspaceResolver
		ref     string
		want    int64
		ok      bool
	}{
		{"ID", Resolver(byID, byName), "7", 7, true},
		{"unknown ID", Resolver(byID, byName), "8", 8, false},
		{"name", Resolver(byID, byName), "acme", 7, true},
		{"unknown name", Resolver(byID, byName), "nope", 0, false},
		{"no registry, default by ID", Resolver(nil, nil), "1", 1, true},
		{"no registry, default by name", Resolver(nil, nil), "default", 1, true},
		{"no registry, another", Resolver(nil, nil), "7", 0, false},
	} {
		if got, ok := tc.resolve(tc.ref); ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: resolve(%q) = %d, %t; want %d, %t", tc.name, tc.ref, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSees(t *testing.T) {
	instance := KeyRecord{Role: apikey.Admin}
	member := KeyRecord{Role: apikey.Viewer, Workspace: 7}
	for _, tc := range []struct {
		name       string
		rec        KeyRecord
		acting, ws int64
		want       bool
	}{
		{"instance admin over every workspace", instance, 0, 7, true},
		{"instance admin acting in 7 sees 7", instance, 7, 7, true},
		{"instance admin acting in 7 does not see 1", instance, 7, 1, false},
		{"member sees its own", member, 7, 7, true},
		{"member does not see another", member, 7, 1, false},
		{"0 is the default workspace", member, 1, 0, true},
		{"a non-admin acting in 0 sees nothing", member, 0, 7, false},
	} {
		if got := Sees(tc.rec, tc.acting, tc.ws); got != tc.want {
			t.Errorf("%s: Sees = %t, want %t", tc.name, got, tc.want)
		}
	}
}
