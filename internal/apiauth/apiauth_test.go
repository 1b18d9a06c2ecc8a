package apiauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apikey"
)

// ring is a key ring of minted keys.
type ring map[string]KeyRecord

func (r ring) LookupKey(id string) (KeyRecord, bool) { rec, ok := r[id]; return rec, ok }

func (r ring) mint(t *testing.T, role apikey.Role, revoked bool) string {
	t.Helper()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	r[k.ID] = KeyRecord{ID: k.ID, Role: role, Hash: k.Hash, CreatedAt: time.Now(), Revoked: revoked}
	return k.Secret
}

func TestCheck(t *testing.T) {
	t.Parallel()
	keys := ring{}
	admin, viewer := keys.mint(t, apikey.Admin, false), keys.mint(t, apikey.Viewer, false)
	revoked := keys.mint(t, apikey.Admin, true)
	unknown, _ := apikey.New()
	for _, tt := range []struct {
		name         string
		auth, header string
		keys         KeyLookup
		want         int
		detailHas    string
	}{
		{"bearer", "Bearer " + admin, "", keys, http.StatusOK, ""},
		{"lower-case scheme", "bearer " + admin, "", keys, http.StatusOK, ""},
		{"header", "", admin, keys, http.StatusOK, ""},
		{"both, same key", "Bearer " + admin, admin, keys, http.StatusOK, ""},
		{"both, different keys", "Bearer " + admin, viewer, keys, http.StatusBadRequest, "different keys"},
		{"basic scheme", "Basic YTpi", "", keys, http.StatusUnauthorized, "Bearer <key>"},
		{"empty bearer", "Bearer ", "", keys, http.StatusUnauthorized, "Bearer <key>"},
		{"no key", "", "", keys, http.StatusUnauthorized, "the thing needs an API key of role creator or above, as \"Authorization: Bearer <key>\""},
		{"unknown", "Bearer " + unknown.Secret, "", keys, http.StatusUnauthorized, "not valid"},
		{"revoked", "Bearer " + revoked, "", keys, http.StatusUnauthorized, "not valid"},
		{"malformed", "Bearer sk_nope", "", keys, http.StatusUnauthorized, "not valid"},
		{"role too low", "Bearer " + viewer, "", keys, http.StatusForbidden, "the thing needs role creator or above; key "},
		{"no key ring", "Bearer " + admin, "", nil, http.StatusServiceUnavailable, "key ring is not available"},
		{"no key, no key ring", "", "", nil, http.StatusUnauthorized, "needs an API key"},
		{"empty key ring", "Bearer " + admin, "", NoKeys{}, http.StatusUnauthorized, "not valid"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.auth != "" {
			r.Header.Set(AuthorizationHeader, tt.auth)
		}
		if tt.header != "" {
			r.Header.Set(KeyHeader, tt.header)
		}
		w := httptest.NewRecorder()
		rec, ok := Check(w, r, tt.keys, apikey.Creator, "the thing")
		if ok != (tt.want == http.StatusOK) {
			t.Errorf("%s: Check = %v, want %v", tt.name, ok, tt.want == http.StatusOK)
			continue
		}
		if ok {
			if rec.Role != apikey.Admin || w.Body.Len() != 0 {
				t.Errorf("%s: record %+v, body %q", tt.name, rec, w.Body)
			}
			continue
		}
		var doc struct {
			Status int
			Detail string
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != tt.want || doc.Status != tt.want || !strings.Contains(doc.Detail, tt.detailHas) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, w.Code, w.Body, tt.want, tt.detailHas)
		}
		challenges := w.Header().Values("WWW-Authenticate")
		if (tt.want == http.StatusUnauthorized) != slices.Equal(challenges, Challenges) {
			t.Errorf("%s: %d with challenges %q", tt.name, w.Code, challenges)
		}
		if tt.want == http.StatusServiceUnavailable && w.Header().Get("Retry-After") != "1" {
			t.Errorf("%s: no Retry-After", tt.name)
		}
	}
}

func TestInstanceAdmin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		role      apikey.Role
		workspace int64
		want      bool
	}{
		{apikey.Admin, 0, true},
		{apikey.Admin, 1, false},
		{apikey.Creator, 0, false},
		{apikey.Viewer, 0, false},
		{apikey.Viewer, 2, false},
	} {
		if got := (KeyRecord{Role: tt.role, Workspace: tt.workspace}).InstanceAdmin(); got != tt.want {
			t.Errorf("%s key of workspace %d: InstanceAdmin %v, want %v", tt.role, tt.workspace, got, tt.want)
		}
	}
}

// Admin routes administer the instance: an admin key of one workspace is
// refused there (403, naming why), an instance admin key passes, and a
// workspace's admin key still passes routes of lower roles.
func TestCheckAdminNeedsInstanceAdmin(t *testing.T) {
	t.Parallel()
	keys := ring{}
	instance, wsAdmin := keys.mint(t, apikey.Admin, false), keys.mint(t, apikey.Admin, false)
	id, err := apikey.Parse(wsAdmin)
	if err != nil {
		t.Fatal(err)
	}
	rec := keys[id]
	rec.Workspace = 2
	keys[id] = rec
	for _, tt := range []struct {
		name string
		key  string
		role apikey.Role
		want int
	}{
		{"instance admin on an admin route", instance, apikey.Admin, http.StatusOK},
		{"workspace admin on an admin route", wsAdmin, apikey.Admin, http.StatusForbidden},
		{"workspace admin on a creator route", wsAdmin, apikey.Creator, http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(AuthorizationHeader, "Bearer "+tt.key)
		w := httptest.NewRecorder()
		_, ok := Check(w, r, keys, tt.role, "the route")
		if ok != (tt.want == http.StatusOK) || (!ok && (w.Code != tt.want || !strings.Contains(w.Body.String(), "instance admin"))) {
			t.Errorf("%s: ok %v, %d %s; want %d", tt.name, ok, w.Code, w.Body, tt.want)
		}
	}
}
