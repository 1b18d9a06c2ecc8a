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
