package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// issuer is a real codegen codec and Snowflake generator over a local
// counter: the Raft-backed issuer without Raft.
type issuer struct {
	codec *codegen.Codec
	ids   *snowflake.Generator
	next  atomic.Uint64
	err   error
}

func newIssuer(t testing.TB, start uint64) *issuer {
	t.Helper()
	key, err := codegen.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err := codegen.New(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := snowflake.New(1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{codec: c, ids: g}
	is.next.Store(start)
	return is
}

func (i *issuer) NewID() (int64, error) {
	if i.err != nil {
		return 0, i.err
	}
	return i.ids.Next()
}

func (i *issuer) NextCode() (string, error) {
	if i.err != nil {
		return "", i.err
	}
	return i.codec.Code(i.next.Add(1) - 1)
}

type env struct {
	h      http.Handler
	store  linkstore.Store
	issuer *issuer
	now    time.Time
}

func backends(t *testing.T) map[string]func(t *testing.T) linkstore.Store {
	return map[string]func(t *testing.T) linkstore.Store{
		"sqlite":   func(t *testing.T) linkstore.Store { return teststore.SQLite(t) },
		"postgres": func(t *testing.T) linkstore.Store { return teststore.Postgres(t, testenv.Schema(t)) },
	}
}

func newEnv(t *testing.T, store linkstore.Store, cfg api.Config) *env {
	t.Helper()
	return newEnvDeps(t, cfg, api.Deps{Store: store})
}

// newEnvDeps is newEnv with more of the API's dependencies: deps.Store is
// the store, and the env's issuer and clock are added.
func newEnvDeps(t *testing.T, cfg api.Config, deps api.Deps) *env {
	t.Helper()
	e := &env{store: deps.Store, issuer: newIssuer(t, uint64(time.Now().UnixNano()%1e9)), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return e.now }
	}
	deps.Issuer = e.issuer
	h, err := newAPI(t, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

func (e *env) do(t *testing.T, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://sho.test"+path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", w.Code, w.Body.String(), err)
	}
	return v
}

func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, detailHas string) problem.Details {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type = %q, want %q", ct, problem.ContentType)
	}
	p := decode[problem.Details](t, w)
	if p.Status != status || p.Title == "" || !strings.Contains(p.Detail, detailHas) {
		t.Fatalf("problem = %+v, want status %d and detail containing %q", p, status, detailHas)
	}
	return p
}

func TestLinksAPI(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("create, get, delete", func(t *testing.T) { testCreateGetDelete(t, newEnv(t, open(t), api.Config{})) })
			t.Run("alias", func(t *testing.T) { testAlias(t, newEnv(t, open(t), api.Config{})) })
			t.Run("bad input changes nothing", func(t *testing.T) { testBadInput(t, newEnv(t, open(t), api.Config{PublicURL: "https://sho.rt"})) })
		})
	}
}

func testCreateGetDelete(t *testing.T, e *env) {
	w := e.do(t, "POST", "/api/v1/links", "application/json",
		`{"url":"https://example.com/some/long/path?q=1","expires_at":"2031-01-01T00:00:00Z","redirect_status":301}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	got := decode[api.Link](t, w)
	if len(got.Code) != 6 {
		t.Errorf("generated code %q is not 6 characters", got.Code)
	}
	if got.ShortURL != "http://sho.test/"+got.Code {
		t.Errorf("short_url = %q", got.ShortURL)
	}
	if got.URL != "https://example.com/some/long/path?q=1" || got.RedirectStatus != 301 || got.ID == "" || got.Disabled {
		t.Errorf("link = %+v", got)
	}
	if !got.CreatedAt.Equal(e.now) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("times: created %v expires %v", got.CreatedAt, got.ExpiresAt)
	}
	if loc := w.Header().Get("Location"); loc != "/api/v1/links/"+got.Code {
		t.Errorf("Location = %q", loc)
	}

	w = e.do(t, "GET", "/api/v1/links/"+got.Code, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("get: %d %s", w.Code, w.Body.String())
	}
	if again := decode[api.Link](t, w); again.Code != got.Code || again.URL != got.URL || again.ID != got.ID {
		t.Errorf("get = %+v, want %+v", again, got)
	}

	// A second create gets another code.
	w2 := e.do(t, "POST", "/api/v1/links", "application/json; charset=utf-8", `{"url":"https://example.org/"}`)
	if w2.Code != http.StatusCreated {
		t.Fatalf("second create: %d %s", w2.Code, w2.Body.String())
	}
	second := decode[api.Link](t, w2)
	if second.Code == got.Code || second.RedirectStatus != 0 || second.ExpiresAt != nil {
		t.Errorf("second link = %+v", second)
	}

	if w := e.do(t, "DELETE", "/api/v1/links/"+got.Code, "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", w.Code, w.Body.String())
	}
	wantProblem(t, e.do(t, "GET", "/api/v1/links/"+got.Code, "", ""), http.StatusNotFound, got.Code)
	wantProblem(t, e.do(t, "DELETE", "/api/v1/links/"+got.Code, "", ""), http.StatusNotFound, got.Code)
	if w := e.do(t, "GET", "/api/v1/links/"+second.Code, "", ""); w.Code != http.StatusOK {
		t.Fatalf("the other link is gone: %d", w.Code)
	}
}

func testAlias(t *testing.T, e *env) {
	alias := "promo-" + strings.ReplaceAll(t.Name(), "/", "_")[:10] + time.Now().Format("150405.000000")[7:]
	w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/a","alias":"`+alias+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	if got := decode[api.Link](t, w); got.Code != alias {
		t.Fatalf("code = %q, want the alias %q", got.Code, alias)
	}
	wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/b","alias":"`+alias+`"}`),
		http.StatusConflict, "already taken")
	l, err := e.store.Get(context.Background(), "", alias)
	if err != nil || l.URL != "https://example.com/a" {
		t.Fatalf("after the conflict the alias holds %+v, %v", l, err)
	}
}

func testBadInput(t *testing.T, e *env) {
	const alias = "never-created"
	body := func(fields string) string { return `{"alias":"` + alias + `",` + fields + `}` }
	tests := []struct {
		name, ct, body string
		status         int
		detail         string
	}{
		{"no url", "application/json", `{"alias":"` + alias + `"}`, 400, "url is required"},
		{"javascript url", "application/json", body(`"url":"javascript:alert(1)"`), 400, "scheme"},
		{"relative url", "application/json", body(`"url":"/foo"`), 400, "absolute"},
		{"own host", "application/json", body(`"url":"https://sho.rt/abc"`), 400, "this shortener"},
		{"url too long", "application/json", body(`"url":"https://example.com/` + strings.Repeat("a", 3000) + `"`), 400, "limit"},
		{"bad status", "application/json", body(`"url":"https://example.com","redirect_status":200`), 400, "redirect_status 200"},
		{"status as string", "application/json", body(`"url":"https://example.com","redirect_status":"301"`), 400, "redirect_status"},
		{"past expiry", "application/json", body(`"url":"https://example.com","expires_at":"2001-01-01T00:00:00Z"`), 400, "future"},
		{"bad expiry", "application/json", body(`"url":"https://example.com","expires_at":"tomorrow"`), 400, "RFC 3339"},
		{"unknown field", "application/json", body(`"url":"https://example.com","colour":"red"`), 400, "colour"},
		{"not json", "application/json", `url=https://example.com`, 400, "not valid JSON"},
		{"empty body", "application/json", ``, 400, "empty"},
		{"two objects", "application/json", body(`"url":"https://example.com"`) + `{}`, 400, "exactly one"},
		{"array", "application/json", `[]`, 400, "must be a"},
		{"form content type", "application/x-www-form-urlencoded", body(`"url":"https://example.com"`), 415, "application/json"},
		{"huge body", "application/json", `{"url":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger than"},
		{"reserved alias", "application/json", `{"url":"https://example.com","alias":"api"}`, 400, "reserved"},
		{"short alias", "application/json", `{"url":"https://example.com","alias":"ab"}`, 400, "at least"},
		{"alias charset", "application/json", `{"url":"https://example.com","alias":"a b/c"}`, 400, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.do(t, "POST", "/api/v1/links", tt.ct, tt.body), tt.status, tt.detail)
			if _, err := e.store.Get(context.Background(), "", alias); !errors.Is(err, linkstore.ErrNotFound) {
				t.Fatalf("a refused request left a link behind: %v", err)
			}
		})
	}
	wantProblem(t, e.do(t, "GET", "/api/v1/links/bad.code", "", ""), 400, "not a short code")
	wantProblem(t, e.do(t, "DELETE", "/api/v1/links/"+strings.Repeat("a", 65), "", ""), 400, "not a short code")
	wantProblem(t, e.do(t, "GET", "/api/v1/nothing", "", ""), 404, "no API route")
	p := wantProblem(t, e.do(t, "PUT", "/api/v1/links", "application/json", `{}`), 405, "POST")
	_ = p
}

func TestIssuerFailureIs503(t *testing.T) {
	s := teststore.SQLite(t)
	e := newEnv(t, s, api.Config{})
	// The cause names the leader's address: it goes to the log, never to
	// the client.
	e.issuer.err = errors.New("no sequence block: leader at 10.1.2.3:8300 refused: raft: leadership lost")
	for _, req := range []struct{ path, body string }{
		{"/api/v1/links", `{"url":"https://example.com"}`},
		{"/api/v1/links/bulk", `{"links":[{"url":"https://example.com"}]}`},
	} {
		w := e.do(t, "POST", req.path, "application/json", req.body)
		wantProblem(t, w, http.StatusServiceUnavailable, api.NotReadyDetail)
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", req.path)
		}
		for _, leak := range []string{"10.1.2.3", "8300", "raft", "leader", "sequence block"} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("%s: the 503 body shows %q: %s", req.path, leak, w.Body.String())
			}
		}
	}
}

func TestHealth(t *testing.T) {
	s := teststore.SQLite(t)
	notReady := errors.New("no raft leader; last leader 10.9.8.7:8300")
	var ready atomic.Pointer[error]
	ready.Store(&notReady)
	h, err := newAPI(t, api.Config{}, api.Deps{Store: s, Issuer: newIssuer(t, 0), Ready: func(context.Context) error { return *ready.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := get("/api/v1/healthz"); w.Code != 200 {
		t.Fatalf("healthz = %d", w.Code)
	}
	w := get("/api/v1/readyz")
	wantProblem(t, w, 503, api.NotReadyDetail)
	if strings.Contains(w.Body.String(), "10.9.8.7") || strings.Contains(w.Body.String(), "raft") {
		t.Errorf("readyz shows the cause: %s", w.Body.String())
	}
	var none error
	ready.Store(&none)
	if w := get("/api/v1/readyz"); w.Code != 200 {
		t.Fatalf("readyz when ready = %d %s", w.Code, w.Body.String())
	}
}

// FuzzCreateLink: whatever the body, the answer is 201 or a 4xx problem
// document, never a panic or a 5xx.
func FuzzCreateLink(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://example.com"}`, `{"url":"https://example.com","alias":"abc","redirect_status":308}`,
		`{"url":"https://e.com","expires_at":"2099-01-01T00:00:00Z"}`, `{}`, `[]`, `null`, `{"url":1}`, `{"url":"x"}{}`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	s := teststore.SQLiteFile(f, filepath.Join(dir, "l.db"))
	key, _ := codegen.NewKey()
	codec, _ := codegen.New(key)
	ids, _ := snowflake.New(2, 0, nil)
	is := &issuer{codec: codec, ids: ids}
	h, err := newAPI(f, api.Config{}, api.Deps{Store: s, Issuer: is})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/links", bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusCreated:
		case w.Code >= 400 && w.Code < 500:
			if w.Header().Get("Content-Type") != problem.ContentType {
				t.Fatalf("%d without a problem document", w.Code)
			}
		default:
			b, _ := io.ReadAll(w.Body)
			t.Fatalf("status %d for %q: %s", w.Code, body, b)
		}
	})
}
