package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
)

// TestBearerKeys: a key is accepted as "Authorization: Bearer" and as
// X-Api-Key; two different keys are a 400; a 401 names both forms.
func TestBearerKeys(t *testing.T) {
	ring := &keyRing{}
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: openSQLite(t), Issuer: newIssuer(t, 0), Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	admin, viewer := ring.mint(t, apikey.Admin), ring.mint(t, apikey.Viewer)
	unknown, _ := apikey.New()

	for _, tt := range []struct {
		name         string
		auth, header string
		want         int
		detailHas    string
	}{
		{"bearer", "Bearer " + admin, "", http.StatusOK, ""},
		{"bearer, scheme in lower case", "bearer " + admin, "", http.StatusOK, ""},
		{"X-Api-Key", "", admin, http.StatusOK, ""},
		{"both, the same key", "Bearer " + admin, admin, http.StatusOK, ""},
		{"both, different keys", "Bearer " + viewer, admin, http.StatusBadRequest, "different keys"},
		{"both, different keys the other way", "Bearer " + admin, viewer, http.StatusBadRequest, "different keys"},
		{"basic", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", http.StatusUnauthorized, "Bearer"},
		{"bearer without a token", "Bearer", "", http.StatusUnauthorized, "Bearer"},
		{"bearer, unknown key", "Bearer " + unknown.Secret, "", http.StatusUnauthorized, "not valid"},
		{"bearer, viewer on an admin route", "Bearer " + viewer, "", http.StatusForbidden, "role admin"},
		{"none", "", "", http.StatusUnauthorized, "Authorization: Bearer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/admin/keys", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.header != "" {
				r.Header.Set(api.KeyHeader, tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if tt.want == http.StatusOK {
				if w.Code != http.StatusOK {
					t.Fatalf("%d %s, want 200", w.Code, w.Body)
				}
				return
			}
			wantProblem(t, w, tt.want, tt.detailHas)
			challenges := w.Header().Values("WWW-Authenticate")
			if tt.want == http.StatusUnauthorized && !slices.Contains(challenges, `Bearer realm="shortify"`) {
				t.Errorf("401 challenges %q, want Bearer realm=\"shortify\" among them", challenges)
			}
			// No answer echoes a key it was sent.
			for _, k := range []string{admin, viewer, unknown.Secret} {
				if strings.Contains(w.Body.String(), k) {
					t.Errorf("the answer shows a key: %s", w.Body)
				}
			}
		})
	}
}
