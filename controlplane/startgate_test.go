package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// noIssuer issues nothing: the requests of these tests need no new link.
type noIssuer struct{}

func (noIssuer) NewID() (int64, error)     { return 0, errors.New("no IDs here") }
func (noIssuer) NextCode() (string, error) { return "", errors.New("no codes here") }

// testAPI is a real API handler over a SQLite store, with the key ring
// keys (nil: none).
func testAPI(t *testing.T, keys api.Keys) *api.Handler {
	t.Helper()
	s := teststore.SQLite(t)
	h, err := api.New(api.Config{PublicURL: "http://sho.test"}, api.Deps{Store: s, Issuer: noIssuer{}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serve sends GET /api/v1/healthz through h in the background.
func serve(h *APIHandler) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		_ = h.ServeHTTP(w, httptest.NewRequest("GET", "http://sho.test/api/v1/healthz", nil), nil)
		out <- w
	}()
	return out
}

func want503(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var p problem.Details
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Detail == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want a 503 problem with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
}

// A request that arrives while the app starts waits for it and gets the
// API's answer, not a 503.
func TestAPIWaitsForStart(t *testing.T) {
	app := &App{}
	h := &APIHandler{app: app, startWait: time.Minute}
	got := serve(h)
	testenv.WaitFor(t, "the request to wait at the gate", 10*time.Second,
		func() bool { return app.started.waiting.Load() == 1 })

	// What Start does once the node is open.
	app.api.Store(testAPI(t, nil))
	app.started.open()
	select {
	case w := <-got:
		if w.Code != http.StatusOK {
			t.Fatalf("after the start: %d %s", w.Code, w.Body.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request was not served once the app started")
	}
}

// The wait is bounded: then 503 with Retry-After.
func TestAPIStartWaitBounded(t *testing.T) {
	app := &App{}
	h := &APIHandler{app: app, startWait: 50 * time.Millisecond}
	start := time.Now()
	w := <-serve(h)
	want503(t, w)
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("answered after %s, before the wait was over", took)
	}
}

// An app that failed to start or is stopping answers at once: nothing is
// coming to wait for.
func TestAPINoWaitWhenStopped(t *testing.T) {
	app := &App{}
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	h := &APIHandler{app: app, startWait: time.Hour}
	select {
	case w := <-serve(h):
		want503(t, w)
	case <-time.After(10 * time.Second):
		t.Fatal("a request to a stopped app waited")
	}
}

// The stats API of the same process waits at the same gate for the key
// ring (TestAPIWaitsForStart for the control plane's own API), and gives
// up when its request's context ends.
func TestStatsKeysWaitForStart(t *testing.T) {
	app := &App{}
	got := make(chan api.KeyLookup, 1)
	go func() { got <- app.WaitKeys(t.Context()) }()
	testenv.WaitFor(t, "the stats request to wait at the gate", 10*time.Second,
		func() bool { return app.started.waiting.Load() == 1 })
	ring := emptyKeyRing{}
	app.api.Store(testAPI(t, ring))
	app.started.open()
	select {
	case keys := <-got:
		if keys != api.KeyLookup(ring) {
			t.Fatalf("got key ring %v once the app started, want the API's", keys)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting stats request did not get the key ring once the app started")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if keys := (&App{}).WaitKeys(ctx); keys != nil {
		t.Fatal("a key ring from an app that never started")
	}
}

// emptyKeyRing is a key ring with no keys.
type emptyKeyRing struct{}

func (emptyKeyRing) LookupKey(string) (api.KeyRecord, bool)                     { return api.KeyRecord{}, false }
func (emptyKeyRing) ListKeys() []api.KeyRecord                                  { return nil }
func (emptyKeyRing) AddKey(context.Context, api.KeyRecord) error                { return nil }
func (emptyKeyRing) RevokeKey(context.Context, string, time.Time) (bool, error) { return false, nil }
