package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// keyRing is an in-memory api.Keys, standing in for the Raft FSM's key
// ring (which the cluster package tests).
type keyRing struct {
	mu   sync.Mutex
	recs []api.KeyRecord
}

func (k *keyRing) LookupKey(id string) (api.KeyRecord, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.recs {
		if r.ID == id {
			return r, true
		}
	}
	return api.KeyRecord{}, false
}

func (k *keyRing) ListKeys() []api.KeyRecord {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.recs)
}

func (k *keyRing) AddKey(_ context.Context, rec api.KeyRecord) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.recs = append(k.recs, rec)
	return nil
}

func (k *keyRing) RevokeKey(_ context.Context, id string, _ time.Time) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range k.recs {
		if k.recs[i].ID == id {
			k.recs[i].Revoked = true
			return true, nil
		}
	}
	return false, nil
}

// mint adds a key of the role and returns it.
func (k *keyRing) mint(t testing.TB, role apikey.Role) string {
	t.Helper()
	key, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	_ = k.AddKey(context.Background(), api.KeyRecord{ID: key.ID, Name: string(role), Role: role, Hash: key.Hash, CreatedAt: time.Now()})
	return key.Secret
}

// noKey, sent as the X-Api-Key header in tests, means "send no key".
const noKey = "-"

// withKey sends key on every request that names none, so that tests of
// other things run as an admin.
type withKey struct {
	h   http.Handler
	key string
}

func (k withKey) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get(api.KeyHeader) {
	case "":
		r.Header.Set(api.KeyHeader, k.key)
	case noKey:
		r.Header.Del(api.KeyHeader)
	}
	k.h.ServeHTTP(w, r)
}

// testPublicURL is the public URL of the tests' APIs: the host their
// requests are sent to, so that short URLs read as before public_url
// became required.
const testPublicURL = "http://sho.test"

// newAPI is api.New with a key ring (and, unless cfg names one, the
// public URL testPublicURL), with requests made as its admin.
func newAPI(t testing.TB, cfg api.Config, deps api.Deps) (http.Handler, error) {
	ring := &keyRing{}
	if cfg.PublicURL == "" {
		cfg.PublicURL = testPublicURL
	}
	if deps.Keys == nil {
		deps.Keys = ring
	}
	h, err := api.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	return withKey{h, ring.mint(t, apikey.Admin)}, nil
}

// TestRoles calls every route with no key, a malformed key, an unknown
// key, a revoked key and a key of each role, and checks who gets through.
func TestRoles(t *testing.T) {
	s := teststore.SQLite(t)
	ring := &keyRing{}
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: s, Issuer: newIssuer(t, 0), Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"viewer":  ring.mint(t, apikey.Viewer),
		"creator": ring.mint(t, apikey.Creator),
		"admin":   ring.mint(t, apikey.Admin),
	}
	revoked := ring.mint(t, apikey.Admin)
	id, _ := apikey.Parse(revoked)
	_, _ = ring.RevokeKey(context.Background(), id, time.Now())
	unknown, _ := apikey.New()

	rank := map[string]int{"public": 0, "viewer": 1, "creator": 2, "creator-or-anonymous": 2, "admin": 3, "workspace-admin": 3}
	for _, rt := range h.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{code}", "nosuchcode", "{id}", "AAAAAAAAAAAA", "{name}", "clicks_y2000m01", "{domain}", "blocked.example").Replace(path)
		call := func(key string) int {
			r := httptest.NewRequest(method, path, strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json")
			if key != "" {
				r.Header.Set(api.KeyHeader, key)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			need, ok := rank[rt.Access]
			if !ok {
				// The public handler has no member routes: those are the
				// internal listener's (api.NewInternal).
				t.Fatalf("route with access %q on the public handler", rt.Access)
			}
			if need == 0 {
				if code := call(""); code == 401 || code == 403 {
					t.Errorf("public route refused without a key: %d", code)
				}
				return
			}
			for name, key := range map[string]string{"no key": "", "malformed key": "sk_nope", "unknown key": unknown.Secret, "revoked key": revoked} {
				if code := call(key); code != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401", name, code)
				}
			}
			for role, key := range keys {
				code := call(key)
				if rank[role] < need && code != http.StatusForbidden {
					t.Errorf("%s key: %d, want 403", role, code)
				}
				if rank[role] >= need && (code == 401 || code == 403) {
					t.Errorf("%s key: %d, want through", role, code)
				}
			}
		})
	}
}

func TestKeyAdministration(t *testing.T) {
	s := teststore.SQLite(t)
	e := newEnv(t, s, api.Config{})

	w := e.do(t, "POST", "/api/v1/admin/keys", "application/json", `{"name":"ci bot","role":"creator"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create key: %d %s", w.Code, w.Body.String())
	}
	nk := decode[api.NewKey](t, w)
	if nk.Role != "creator" || nk.Name != "ci bot" || !strings.HasPrefix(nk.Key, "sk_"+nk.ID+"_") {
		t.Fatalf("new key: %+v", nk)
	}
	// The new key creates links, and cannot manage keys.
	create := func(key string) int {
		r := httptest.NewRequest("POST", "http://sho.test/api/v1/links", strings.NewReader(`{"url":"https://example.com/"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(api.KeyHeader, key)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w.Code
	}
	if code := create(nk.Key); code != http.StatusCreated {
		t.Fatalf("create with the new key: %d", code)
	}
	w = e.do(t, "GET", "/api/v1/admin/keys", "", "")
	list := decode[map[string][]api.KeyInfo](t, w)["keys"]
	if !slices.ContainsFunc(list, func(k api.KeyInfo) bool { return k.ID == nk.ID && !k.Revoked }) {
		t.Fatalf("list: %+v", list)
	}
	if strings.Contains(w.Body.String(), nk.Key) {
		t.Fatal("the key list shows a secret")
	}
	if w := e.do(t, "DELETE", "/api/v1/admin/keys/"+nk.ID, "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", w.Code, w.Body.String())
	}
	if code := create(nk.Key); code != http.StatusUnauthorized {
		t.Fatalf("create with a revoked key: %d", code)
	}
	wantProblem(t, e.do(t, "DELETE", "/api/v1/admin/keys/AAAAAAAAAAAA", "", ""), 404, "no key")
	wantProblem(t, e.do(t, "DELETE", "/api/v1/admin/keys/short", "", ""), 400, "not a key ID")
	for _, tt := range []struct{ body, detail string }{
		{`{"role":"admin"}`, "name is required"},
		{`{"name":"x","role":"root"}`, "role must be"},
		{`{"name":"` + strings.Repeat("n", 101) + `","role":"viewer"}`, "name is required"},
	} {
		wantProblem(t, e.do(t, "POST", "/api/v1/admin/keys", "application/json", tt.body), 400, tt.detail)
	}
}

// limiter allows n anonymous creates per client, then refuses.
type limiter struct {
	mu      sync.Mutex
	left    map[string]int
	n       int
	refunds int
}

func (l *limiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.left[key]; !ok {
		l.left[key] = l.n
	}
	if l.left[key] == 0 {
		return false, 30 * time.Second, nil
	}
	l.left[key]--
	return true, 0, nil
}

func (l *limiter) Refund(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.left[key] = min(l.left[key]+1, l.n)
	l.refunds++
	return nil
}

func TestAnonymousCreate(t *testing.T) {
	s := teststore.SQLite(t)
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("anonymous_create=%v", on), func(t *testing.T) {
			lim := &limiter{left: map[string]int{}, n: 2}
			h, err := api.New(api.Config{PublicURL: testPublicURL, AnonymousCreate: on}, api.Deps{Store: s, Issuer: newIssuer(t, uint64(time.Now().UnixNano()%1e9)), Keys: &keyRing{}, AnonymousLimiter: lim})
			if err != nil {
				t.Fatal(err)
			}
			post := func(path, remote string) *httptest.ResponseRecorder {
				body := `{"url":"https://example.com/"}`
				if strings.HasSuffix(path, "/bulk") {
					body = `{"links":[{"url":"https://example.com/"}]}`
				}
				r := httptest.NewRequest("POST", "http://sho.test"+path, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.RemoteAddr = remote
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			if !on {
				wantProblem(t, post("/api/v1/links", "192.0.2.1:1000"), 401, "API key")
				return
			}
			for i := range 2 {
				if w := post("/api/v1/links", "192.0.2.1:1000"); w.Code != http.StatusCreated {
					t.Fatalf("anonymous create %d: %d %s", i, w.Code, w.Body.String())
				}
			}
			wantProblem(t, post("/api/v1/links", "192.0.2.1:1000"), 429, "too many")
			if w := post("/api/v1/links", "192.0.2.1:1000"); w.Header().Get("Retry-After") != "30" {
				t.Errorf("Retry-After = %q", w.Header().Get("Retry-After"))
			}
			if w := post("/api/v1/links", "198.51.100.7:1000"); w.Code != http.StatusCreated {
				t.Fatalf("another client: %d", w.Code)
			}
			// Bulk creation always needs a key.
			wantProblem(t, post("/api/v1/links/bulk", "203.0.113.9:1"), 401, "API key")
		})
	}
}
