package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cleanup"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// keyedEnv is an API with anonymous creates and a key of each role that
// the tests of retired codes and takedowns use.
type keyedEnv struct {
	h              http.Handler
	store          linkstore.Store
	now            time.Time
	creator, admin string
}

func newKeyedEnv(t *testing.T, s linkstore.Store) *keyedEnv {
	t.Helper()
	ring := &keyRing{}
	e := &keyedEnv{store: s, now: time.Now().UTC().Truncate(time.Second),
		creator: ring.mint(t, apikey.Creator), admin: ring.mint(t, apikey.Admin)}
	h, err := api.New(api.Config{PublicURL: testPublicURL, AnonymousCreate: true, Now: func() time.Time { return e.now }},
		api.Deps{Store: s, Issuer: newIssuer(t, uint64(time.Now().UnixNano()%1e9)), Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

// call sends a request with key (noKey: none, anonymous).
func (e *keyedEnv) call(t *testing.T, method, path, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://sho.test"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != noKey {
		r.Header.Set(api.KeyHeader, key)
	}
	r.RemoteAddr = "192.0.2.7:1234"
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *keyedEnv) create(t *testing.T, key, body string) api.Link {
	t.Helper()
	w := e.call(t, "POST", "/api/v1/links", key, body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, w.Code, w.Body.String())
	}
	return decode[api.Link](t, w)
}

// wantTaken checks that neither an anonymous nor a keyed create, single
// or bulk, can take alias, a retired code.
func (e *keyedEnv) wantTaken(t *testing.T, alias string) {
	t.Helper()
	body := fmt.Sprintf(`{"url":"https://evil.example/phish","alias":%q}`, alias)
	for _, key := range []string{noKey, e.creator} {
		wantProblem(t, e.call(t, "POST", "/api/v1/links", key, body), http.StatusConflict, "never reissued")
	}
	w := e.call(t, "POST", "/api/v1/links/bulk", e.creator, `{"links":[`+body+`]}`)
	res := decode[api.BulkResponse](t, w)
	if w.Code != http.StatusOK || res.Failed != 1 || res.Results[0].Status != http.StatusConflict ||
		!strings.Contains(res.Results[0].Error.Detail, "never reissued") {
		t.Fatalf("bulk create of a retired alias: %d %s", w.Code, w.Body.String())
	}
	wantProblem(t, e.call(t, "GET", "/api/v1/links/"+alias, e.creator, ""), http.StatusNotFound, alias)
	wantProblem(t, e.call(t, "PATCH", "/api/v1/links/"+alias, e.creator, `{"disabled":true}`), http.StatusNotFound, alias)
}

// TestRetiredCodes: an alias that expired and was cleaned up, or that was
// deleted, is never issued again (409, anonymous or keyed, single or
// bulk) until an admin releases it.
func TestRetiredCodes(t *testing.T) {
	// A schema of the test's own: the cleanup retires every expired link
	// it sees.
	for name, open := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			e := newKeyedEnv(t, open(t))
			ctx := t.Context()

			expiring := uniqueAlias("exp")
			e.create(t, e.creator, fmt.Sprintf(`{"url":"https://example.com/","alias":%q,"expires_at":%q}`,
				expiring, e.now.Add(time.Hour).Format(time.RFC3339)))
			var lead leader.Flag
			c, err := cleanup.New(e.store, &lead, cleanup.Config{})
			if err != nil {
				t.Fatal(err)
			}
			// The clock of a later cleanup: every link that expired by
			// then, this test's among them, is retired.
			if r := c.Clean(ctx, e.now.Add(2*time.Hour)); r.Err != nil || r.Deleted < 1 {
				t.Fatalf("cleanup: %+v", r)
			}
			e.wantTaken(t, expiring)
			if l, err := e.store.Lookup(ctx, "", expiring); err != nil || !l.Expired(e.now.Add(2*time.Hour)) {
				t.Errorf("the edge's read of the retired link: %+v, %v; want it, expired (410)", l, err)
			}

			deleted := uniqueAlias("del")
			e.create(t, noKey, fmt.Sprintf(`{"url":"https://example.com/","alias":%q}`, deleted))
			if w := e.call(t, "DELETE", "/api/v1/links/"+deleted, e.creator, ""); w.Code != http.StatusNoContent {
				t.Fatalf("delete: %d %s", w.Code, w.Body.String())
			}
			e.wantTaken(t, deleted)

			// Release: admins only; a live code or an unknown one is refused.
			wantProblem(t, e.call(t, "DELETE", "/api/v1/admin/codes/"+deleted, e.creator, ""), http.StatusForbidden, "")
			for _, code := range []string{expiring, deleted} {
				if w := e.call(t, "DELETE", "/api/v1/admin/codes/"+code, e.admin, ""); w.Code != http.StatusNoContent {
					t.Fatalf("release %s: %d %s", code, w.Code, w.Body.String())
				}
				again := e.create(t, e.creator, fmt.Sprintf(`{"url":"https://example.org/new","alias":%q}`, code))
				if again.URL != "https://example.org/new" {
					t.Errorf("created after release: %+v", again)
				}
				wantProblem(t, e.call(t, "DELETE", "/api/v1/admin/codes/"+code, e.admin, ""), http.StatusConflict, "live")
				wantProblem(t, e.call(t, "POST", "/api/v1/links", e.creator,
					fmt.Sprintf(`{"url":"https://example.com/","alias":%q}`, code)), http.StatusConflict, "already taken")
			}
			wantProblem(t, e.call(t, "DELETE", "/api/v1/admin/codes/"+uniqueAlias("none"), e.admin, ""), http.StatusNotFound, "no link")
			wantProblem(t, e.call(t, "DELETE", "/api/v1/admin/codes/a.b", e.admin, ""), http.StatusBadRequest, "short code")
		})
	}
}

// TestTakedown: admins take a link down and lift the takedown; the link's
// JSON shows it; its owner's PATCH is refused with 409 meanwhile; bad
// reasons are refused and change nothing.
func TestTakedown(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newKeyedEnv(t, open(t))
			l := e.create(t, e.creator, `{"url":"https://example.com/promo"}`)
			path := "/api/v1/admin/links/" + l.Code + "/takedown"

			wantProblem(t, e.call(t, "POST", path, e.creator, `{"reason":"spam"}`), http.StatusForbidden, "")
			wantProblem(t, e.call(t, "DELETE", path, e.creator, ""), http.StatusForbidden, "")
			for _, body := range []string{
				`{}`, `{"reason":""}`, `{"reason":"   "}`, `{"reason":"a\nb"}`, `{"reason":"x\u0000"}`,
				fmt.Sprintf(`{"reason":%q}`, strings.Repeat("é", linkstore.MaxTakedownReason+1)),
				`{"reason":"spam","extra":1}`, `{"reason":7}`,
			} {
				w := e.call(t, "POST", path, e.admin, body)
				if w.Code != http.StatusBadRequest {
					t.Errorf("takedown with %.40s: %d %s, want 400", body, w.Code, w.Body.String())
				}
			}
			if got := decode[api.Link](t, e.call(t, "GET", "/api/v1/links/"+l.Code, e.creator, "")); got.Takedown != nil {
				t.Fatalf("a refused takedown took the link down: %+v", got.Takedown)
			}
			wantProblem(t, e.call(t, "POST", "/api/v1/admin/links/"+uniqueAlias("none")+"/takedown", e.admin, `{"reason":"x"}`), http.StatusNotFound, "no live link")

			reason := `Phishing <b>"bank"</b> — case 118`
			w := e.call(t, "POST", path, e.admin, fmt.Sprintf(`{"reason":%q}`, reason))
			if w.Code != http.StatusOK {
				t.Fatalf("takedown: %d %s", w.Code, w.Body.String())
			}
			for what, got := range map[string]api.Link{
				"takedown's answer": decode[api.Link](t, w),
				"owner's GET":       decode[api.Link](t, e.call(t, "GET", "/api/v1/links/"+l.Code, e.creator, "")),
			} {
				if got.Takedown == nil || got.Takedown.Reason != reason || !got.Takedown.At.Equal(e.now) {
					t.Errorf("%s: takedown %+v, want %q at %v", what, got.Takedown, reason, e.now)
				}
			}
			for _, body := range []string{`{"url":"https://example.org/"}`, `{"disabled":false}`} {
				wantProblem(t, e.call(t, "PATCH", "/api/v1/links/"+l.Code, e.creator, body), http.StatusConflict, "taken down")
			}

			w = e.call(t, "DELETE", path, e.admin, "")
			if got := decode[api.Link](t, w); w.Code != http.StatusOK || got.Takedown != nil {
				t.Fatalf("lift: %d %s", w.Code, w.Body.String())
			}
			if w := e.call(t, "PATCH", "/api/v1/links/"+l.Code, e.creator, `{"url":"https://example.org/"}`); w.Code != http.StatusOK {
				t.Fatalf("PATCH after the lift: %d %s", w.Code, w.Body.String())
			}
		})
	}
}

// TestDeleteEvents: a DELETE publishes a deletion that keeps the link's
// statistics, unless ?purge_stats=true; takedowns and lifts publish the
// link's new state, which makes every edge evict the code.
func TestDeleteEvents(t *testing.T) {
	e, k, p := eventsEnv(t, producer.Config{})
	kept := e.mustCreate(t, `{"url":"https://example.com/a"}`)
	purged := e.mustCreate(t, `{"url":"https://example.com/b"}`)
	down := e.mustCreate(t, `{"url":"https://example.com/c"}`)
	for _, q := range []string{"?purge_stats=yes", "?purge_stats=1", "?purge=true", "?purge_stats=true&purge_stats=true"} {
		wantProblem(t, e.do(t, "DELETE", "/api/v1/links/"+kept.Code+q, "", ""), http.StatusBadRequest, "purge")
	}
	for path, status := range map[string]int{
		"/api/v1/links/" + kept.Code + "?purge_stats=false":  http.StatusNoContent,
		"/api/v1/links/" + purged.Code + "?purge_stats=true": http.StatusNoContent,
	} {
		if w := e.do(t, "DELETE", path, "", ""); w.Code != status {
			t.Fatalf("DELETE %s: %d %s", path, w.Code, w.Body.String())
		}
	}
	takedown := "/api/v1/admin/links/" + down.Code + "/takedown"
	if w := e.do(t, "POST", takedown, "application/json", `{"reason":"spam"}`); w.Code != http.StatusOK {
		t.Fatalf("takedown: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, "DELETE", takedown, "", ""); w.Code != http.StatusOK {
		t.Fatalf("lift: %d %s", w.Code, w.Body.String())
	}

	const n = 3 + 2 + 2 // creates, deletes, takedown and lift
	waitFor(t, "the events published", func() bool { return p.Stats().Published == n })
	purge := map[string]bool{}
	updates := 0
	for _, ev := range kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], eventsTopic, n) {
		switch ev.Type {
		case linkevents.Deleted:
			purge[ev.Code] = ev.PurgeStats
		case linkevents.Updated:
			if ev.Code == down.Code {
				updates++
			}
		}
	}
	if len(purge) != 2 || purge[kept.Code] || !purge[purged.Code] {
		t.Errorf("purge_stats of the deletions: %v, want %s false and %s true", purge, kept.Code, purged.Code)
	}
	if updates != 2 {
		t.Errorf("%d updated events for the takedown and its lift, want 2", updates)
	}
}
