package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// get runs GET /code through h with the Accept header.
func get(t *testing.T, h *Handler, code, accept string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/"+code, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil {
		t.Fatalf("GET /%s: %v", code, err)
	}
	return w
}

// check451 checks a takedown answer: no Location, the reason escaped in
// the page under a strict CSP, or in a problem document for JSON clients.
func check451(t *testing.T, w *httptest.ResponseRecorder, reason string, asJSON bool) {
	t.Helper()
	hdr := w.Header()
	if w.Code != http.StatusUnavailableForLegalReasons || hdr.Get("Location") != "" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("takedown answer: %d, Location %q, Cache-Control %q", w.Code, hdr.Get("Location"), hdr.Get("Cache-Control"))
	}
	if asJSON {
		var p struct {
			Status int    `json:"status"`
			Reason string `json:"reason"`
		}
		if hdr.Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil ||
			p.Status != 451 || p.Reason != reason {
			t.Fatalf("JSON takedown answer: %s %s", hdr.Get("Content-Type"), w.Body.String())
		}
		return
	}
	body := w.Body.String()
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") ||
		!strings.HasPrefix(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page headers: %v", hdr)
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "court order") {
		t.Fatalf("the page does not show the reason escaped: %s", body)
	}
}

// TestTakedownAtTheEdge: a takedown reaches every edge through the link
// event (L1 evicted), Redis (the control plane's write-through, read by an
// edge that never had the link) and the store (an edge without Redis);
// each answers 451 from then on, also from its L1; the lift brings the
// redirect back everywhere.
func TestTakedownAtTheEdge(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := postgresDSN(t)
	seed := seeder(t, dsn)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	code := newCode(t, "td")
	create(t, seed, linkstore.Link{Code: code, URL: "https://example.com/td"})

	withRedis := provision(t, eventsHandler(&Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, keySalt: t.Name() + "a"}, k))
	storeOnly := provision(t, eventsHandler(&Handler{Database: dsn, keySalt: t.Name() + "c"}, k))
	for _, h := range []*Handler{withRedis, storeOnly} {
		if st, loc := answer(t, h, code); st != 302 || loc != "https://example.com/td" {
			t.Fatalf("warm-up: %d %q", st, loc)
		}
	}
	waitConsuming(t, withRedis, storeOnly)

	l2 := controlPlaneL2(t, redisAddr, prefix)
	p := linkEvents(t, k)
	ctx := context.Background()

	// The control plane's takedown: the store, the write-through, the event.
	reason := `Phishing <script>alert(1)</script> — court order 118`
	down, err := seed.TakeDown(ctx, "", code, reason, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Set(ctx, down); err != nil {
		t.Fatal(err)
	}
	p.Publish(linkevents.NewUpdated(down, time.Now()))
	for _, h := range []*Handler{withRedis, storeOnly} {
		testenv.WaitFor(t, "the edge to answer 451", eventWait, func() bool {
			return get(t, h, code, "").Code == http.StatusUnavailableForLegalReasons
		})
		check451(t, get(t, h, code, "text/html,application/xhtml+xml,*/*;q=0.8"), reason, false) // an L1 hit
		check451(t, get(t, h, code, "application/json"), reason, true)
	}
	// An edge that never saw the link finds the takedown in Redis. (The
	// edges' consumers replaced the write-through with a tombstone on the
	// event: write it again, as a later write-through would.)
	if err := l2.Set(ctx, down); err != nil {
		t.Fatal(err)
	}
	fresh := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, keySalt: t.Name() + "b"})
	check451(t, get(t, fresh, code, ""), reason, false)
	if fresh.stats.l2Hits.Load() != 1 || fresh.stats.storeHits.Load() != 0 {
		t.Errorf("the fresh edge read L2 %d times and the store %d, want the answer from L2", fresh.stats.l2Hits.Load(), fresh.stats.storeHits.Load())
	}
	if n := withRedis.stats.takedowns.Load(); n < 3 {
		t.Errorf("takedowns served: %d, want at least 3", n)
	}
	w := httptest.NewRecorder()
	if err := fresh.ServeHTTP(w, httptest.NewRequest("HEAD", "/"+code, nil), new(nextHandler)); err != nil || w.Code != 451 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes, %v", w.Code, w.Body.Len(), err)
	}

	// The lift.
	up, err := seed.LiftTakedown(ctx, "", code)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Set(ctx, up); err != nil {
		t.Fatal(err)
	}
	p.Publish(linkevents.NewUpdated(up, time.Now()))
	for _, h := range []*Handler{withRedis, storeOnly} {
		testenv.WaitFor(t, "the edge to redirect again", eventWait, func() bool {
			st, loc := answer(t, h, code)
			return st == 302 && loc == "https://example.com/td"
		})
	}
}

// TestRetiredLinksAtTheEdge: after the cleanup retires an expired link
// (its L2 entry removed, its event published), the edges keep answering
// 410, from the store (the primary, just after the event) and then from
// their L1; an edge that never saw it answers 410 too. A deleted link
// answers 404.
func TestRetiredLinksAtTheEdge(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t) // a file of its own: the retirement below takes every expired link
	seed := seeder(t, dsn)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	expired, deleted := newCode(t, "exp"), newCode(t, "del")
	now := time.Now().UTC()
	create(t, seed,
		linkstore.Link{Code: expired, URL: "https://example.com/exp", ExpiresAt: now.Add(-time.Minute)},
		linkstore.Link{Code: deleted, URL: "https://example.com/del"})
	edge := provision(t, eventsHandler(&Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, keySalt: t.Name()}, k))
	if st, _ := answer(t, edge, expired); st != 410 {
		t.Fatalf("expired link before the cleanup: %d", st)
	}
	waitConsuming(t, edge)

	// The cleanup's batch and the API's delete.
	l2 := controlPlaneL2(t, redisAddr, prefix)
	ctx := context.Background()
	gone, err := seed.RetireExpired(ctx, now, 10)
	if err != nil || len(gone) != 1 {
		t.Fatalf("RetireExpired: %v, %v", gone, err)
	}
	gone2, err := seed.Delete(ctx, "", deleted)
	if err != nil {
		t.Fatal(err)
	}
	p := linkEvents(t, k)
	for _, l := range []linkstore.Link{gone[0], gone2} {
		if err := l2.Delete(ctx, "", l.Code); err != nil {
			t.Fatal(err)
		}
	}
	p.Publish(linkevents.NewDeleted(linkstore.Link{Code: expired, ID: gone[0].ID}, linkevents.ReasonExpired, now))
	p.Publish(linkevents.NewDeleted(linkstore.Link{Code: deleted, ID: gone2.ID}, linkevents.ReasonAPI, now))
	c := edge.inval.consumer
	// Handled, not necessarily applied: the edge's own L2 delete may time
	// out on a loaded machine (counted as failed), and the test deleted the
	// L2 entries above as the control plane does.
	testenv.WaitFor(t, "the events handled", eventWait, func() bool { s := c.Stats(); return s.Applied+s.Failed == 2 })

	fresh := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, keySalt: t.Name() + "b"})
	for _, h := range []*Handler{edge, edge, fresh, fresh} { // the second of each from L1
		if st, loc := answer(t, h, expired); st != 410 || loc != "" {
			t.Errorf("retired expired link: %d %q, want 410", st, loc)
		}
		if st, _ := answer(t, h, deleted); st != 404 {
			t.Errorf("deleted link: %d, want 404", st)
		}
	}
	if _, _, ok := edge.l1.Peek(expired); !ok {
		t.Error("the retired link's 410 is not in L1")
	}
}
