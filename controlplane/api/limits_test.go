package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
)

// limitedDir is the isolation matrix's workspaces with limits: A's own,
// B's none (the configured defaults apply), and C, a third workspace.
func limitedDir(a, b fsm.WorkspaceLimits) workspaceDir {
	return workspaceDir{
		workspace.DefaultID: {ID: workspace.DefaultID, Name: workspace.DefaultName},
		wsA:                 {ID: wsA, Name: "acme", Limits: a},
		wsB:                 {ID: wsB, Name: "bravo", Limits: b},
	}
}

// outcomes counts creates by kind and outcome (an api.CreateObserver).
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) ObserveCreates(kind, outcome string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[kind+" "+outcome] += n
}

func (o *outcomes) get(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[key]
}

func (e *isoEnv) create(t *testing.T, who, body string, header ...string) (int, *http.Response, string) {
	t.Helper()
	w := e.do(t, e.keys[who], "POST", "/api/v1/links", body, header...)
	return w.Code, w.Result(), w.Body.String()
}

func (e *isoEnv) bulk(t *testing.T, who string, n int) (int, api.BulkResponse) {
	t.Helper()
	items := make([]string, n)
	for i := range items {
		items[i] = `{"url":"https://example.org/bulk"}`
	}
	w := e.do(t, e.keys[who], "POST", "/api/v1/links/bulk", `{"links":[`+strings.Join(items, ",")+`]}`)
	if w.Code != http.StatusOK {
		return w.Code, api.BulkResponse{}
	}
	return w.Code, decode[api.BulkResponse](t, w)
}

// TestWorkspaceLinksHeld: a create past the links a workspace may hold
// (its own limit, else the configured default) is a 403 naming the
// workspace and changes nothing; a bulk create counts all its valid links
// at once; deleting a link makes room again.
func TestWorkspaceLinksHeld(t *testing.T) {
	for name, open := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			e := newIsoEnv(t, store, api.Config{WorkspaceDefaults: fsm.WorkspaceLimits{MaxLinks: 3}},
				api.Deps{Workspaces: limitedDir(fsm.WorkspaceLimits{MaxLinks: 2}, fsm.WorkspaceLimits{})})
			held := func(ws int64, want int64) {
				t.Helper()
				if n, err := store.CountLive(t.Context(), ws); err != nil || n != want {
					t.Fatalf("workspace %d holds %d links (%v), want %d", ws, n, err, want)
				}
			}
			var codes []string
			for range 2 {
				code, _, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`)
				if code != http.StatusCreated {
					t.Fatalf("create within the limit: %d %s", code, body)
				}
				codes = append(codes, decodeString[api.Link](t, body).Code)
			}
			code, _, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`)
			wantStatusDetail(t, code, body, http.StatusForbidden, "workspace acme holds 2 links, its limit")
			if code, _ := e.bulk(t, "A creator", 1); code != http.StatusForbidden {
				t.Errorf("bulk past the limit: %d, want 403", code)
			}
			held(wsA, 2)

			// B has no limit of its own: the default, 3.
			for range 3 {
				if code, _, body := e.create(t, "B creator", `{"url":"https://example.org/b","domain":"`+domB+`"}`); code != http.StatusCreated {
					t.Fatalf("B's create within the default limit: %d %s", code, body)
				}
			}
			code, _, body = e.create(t, "B creator", `{"url":"https://example.org/b"}`)
			wantStatusDetail(t, code, body, http.StatusForbidden, "workspace bravo holds 3 links, its limit")
			held(wsB, 3)

			// A delete makes room; a bulk counts its links together.
			if w := e.do(t, e.keys["A creator"], "DELETE", "/api/v1/links/"+codes[0], ""); w.Code != http.StatusNoContent {
				t.Fatalf("delete: %d", w.Code)
			}
			if code, _ := e.bulk(t, "A creator", 2); code != http.StatusForbidden {
				t.Errorf("bulk of 2 at 1 of 2 links: %d, want 403", code)
			}
			held(wsA, 1)
			if code, res := e.bulk(t, "A creator", 1); code != http.StatusOK || res.Created != 1 {
				t.Errorf("bulk of 1 at 1 of 2 links: %d %+v", code, res)
			}
			held(wsA, 2)
		})
	}
}

// TestWorkspaceCreatesPerMinute: past its creates a minute, a workspace's
// create is a 429 with Retry-After, RateLimit and RateLimit-Policy, and
// every create within it carries the RateLimit fields; another workspace
// keeps its own budget; a refused request spends none; a bulk create
// makes the links its budget allows and answers 429 for the others.
func TestWorkspaceCreatesPerMinute(t *testing.T) {
	for name, open := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			limiter := api.NewLimiterSet(nil)
			t.Cleanup(limiter.Close)
			counted := &outcomes{}
			e := newIsoEnv(t, open(t), api.Config{},
				api.Deps{CreateLimiter: limiter, Creates: counted, Workspaces: limitedDir(fsm.WorkspaceLimits{CreatesPerMinute: 3}, fsm.WorkspaceLimits{CreatesPerMinute: 4})})
			// A refusal spends nothing.
			if code, _, body := e.create(t, "A creator", `{"url":"ftp://example.org/"}`); code != http.StatusBadRequest {
				t.Fatalf("bad create: %d %s", code, body)
			}
			for i, remaining := range []string{"2", "1", "0"} {
				code, res, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`)
				if code != http.StatusCreated {
					t.Fatalf("create %d: %d %s", i, code, body)
				}
				if got, want := res.Header.Get("RateLimit-Policy"), `"workspace-creates";q=3;w=60`; got != want {
					t.Errorf("RateLimit-Policy = %q, want %q", got, want)
				}
				if got := res.Header.Get("RateLimit"); !strings.HasPrefix(got, `"workspace-creates";r=`+remaining+";t=") {
					t.Errorf("create %d: RateLimit = %q, want r=%s", i, got, remaining)
				}
			}
			code, res, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`)
			wantStatusDetail(t, code, body, http.StatusTooManyRequests, "workspace acme has created 3 links in the last minute, its limit")
			if res.Header.Get("Retry-After") == "" || !strings.Contains(res.Header.Get("RateLimit"), ";r=0;") || res.Header.Get("RateLimit-Policy") == "" {
				t.Errorf("429 headers: %v", res.Header)
			}
			if code, _ := e.bulk(t, "A creator", 2); code != http.StatusTooManyRequests {
				t.Errorf("bulk with the budget spent: %d, want 429", code)
			}
			// B's budget is its own: 4, of which a bulk of 6 spends all.
			code, bres := e.bulk(t, "B creator", 6)
			if code != http.StatusOK || bres.Created != 4 || bres.Failed != 2 {
				t.Fatalf("bulk of 6 with 4 creates left: %d %+v", code, bres)
			}
			for i, r := range bres.Results {
				if want := map[bool]int{true: http.StatusCreated, false: http.StatusTooManyRequests}[i < 4]; r.Status != want {
					t.Errorf("bulk result %d: %d, want %d", i, r.Status, want)
				}
			}
			// The refusals count as "limited" (shortify_cp_link_creates_total).
			for key, want := range map[string]int{"single limited": 1, "bulk limited": 3, "single created": 3, "bulk created": 4, "single invalid": 1} {
				if got := counted.get(key); got != want {
					t.Errorf("creates counted %q = %d, want %d (all: %v)", key, got, want, counted.n)
				}
			}
		})
	}
}

// TestCreatesGivenBack: a create that fails on the server's side (no ID
// to issue) gives its create back to the workspace's budget.
func TestCreatesGivenBack(t *testing.T) {
	limiter := api.NewLimiterSet(nil)
	t.Cleanup(limiter.Close)
	e := newIsoEnv(t, teststore.SQLite(t), api.Config{},
		api.Deps{CreateLimiter: limiter, Workspaces: limitedDir(fsm.WorkspaceLimits{CreatesPerMinute: 1}, fsm.WorkspaceLimits{})})
	e.issuer.err = errors.New("no sequence block leased")
	if code, _, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("create without IDs: %d %s", code, body)
	}
	e.issuer.err = nil
	if code, _, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`); code != http.StatusCreated {
		t.Fatalf("create after the failure: %d %s, want the budget given back", code, body)
	}
	if code, _, _ := e.create(t, "A creator", `{"url":"https://example.org/a"}`); code != http.StatusTooManyRequests {
		t.Errorf("second create: %d, want 429", code)
	}
}

// TestAnonymousCreatesCountAgainstDefault: anonymous creates spend the
// default workspace's creates a minute, which the instance admin's
// creates without a workspace share.
func TestAnonymousCreatesCountAgainstDefault(t *testing.T) {
	limiter := api.NewLimiterSet(nil)
	t.Cleanup(limiter.Close)
	e := newIsoEnv(t, teststore.SQLite(t), api.Config{AnonymousCreate: true, WorkspaceDefaults: fsm.WorkspaceLimits{CreatesPerMinute: 2}},
		api.Deps{CreateLimiter: limiter})
	e.keys["anonymous"] = ""
	for range 2 {
		code, _, body := e.create(t, "anonymous", `{"url":"https://example.org/anon"}`)
		if code != http.StatusCreated || decodeString[api.Link](t, body).Workspace != workspace.DefaultID {
			t.Fatalf("anonymous create: %d %s", code, body)
		}
	}
	code, _, body := e.create(t, "anonymous", `{"url":"https://example.org/anon"}`)
	wantStatusDetail(t, code, body, http.StatusTooManyRequests, "workspace default has created 2 links")
	code, _, body = e.create(t, "instance", `{"url":"https://example.org/admin"}`)
	wantStatusDetail(t, code, body, http.StatusTooManyRequests, "workspace default has created 2 links")
	// A's budget is its own (the default limit, 2).
	if code, _, body := e.create(t, "A creator", `{"url":"https://example.org/a"}`); code != http.StatusCreated {
		t.Errorf("A's create: %d %s", code, body)
	}
}

func decodeString[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%q is not JSON: %v", body, err)
	}
	return v
}

func wantStatusDetail(t *testing.T, code int, body string, status int, detail string) {
	t.Helper()
	if code != status || !strings.Contains(body, detail) {
		t.Errorf("got %d %s, want %d with %q", code, body, status, detail)
	}
}
