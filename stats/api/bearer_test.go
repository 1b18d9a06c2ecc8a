package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestBearerKeys: the stats API takes a key as "Authorization: Bearer" as
// well as in X-Api-Key, answers two different keys with 400, and names the
// bearer scheme in its 401 challenges.
func TestBearerKeys(t *testing.T) {
	e := setup(t, "sqlite")
	call := func(auth, header string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/stats/overview", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if header != "" {
			r.Header.Set("X-Api-Key", header)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w.Result()
	}
	for name, resp := range map[string]*http.Response{
		"bearer":               call("Bearer "+e.viewer, ""),
		"both, the same key":   call("Bearer "+e.admin, e.admin),
		"X-Api-Key, as before": call("", e.creator),
	} {
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	wantProblem(t, "two different keys", call("Bearer "+e.viewer, e.admin), http.StatusBadRequest)
	for name, resp := range map[string]*http.Response{
		"basic":               call("Basic dXNlcjpwYXNz", ""),
		"bearer, unknown key": call("Bearer sk_AAAAAAAAAAAA_"+e.viewer[16:], ""),
		"no key":              call("", ""),
	} {
		wantProblem(t, name, resp, http.StatusUnauthorized)
		if !slices.Contains(resp.Header.Values("WWW-Authenticate"), `Bearer realm="shortify"`) {
			t.Errorf("%s: challenges %q", name, resp.Header.Values("WWW-Authenticate"))
		}
	}
}
