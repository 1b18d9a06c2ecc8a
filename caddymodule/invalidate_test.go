package caddymodule

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// linkEvents returns the control plane's link-events producer on k,
// closed when the test ends.
func linkEvents(t *testing.T, k *kafkatest.Broker) *producer.Producer {
	t.Helper()
	p, err := producer.New(producer.Config{Brokers: []string{k.Addr()}, Topic: testLinksTopic,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// waitConsuming waits until every handler's link-events consumer has had
// an answer from the broker, so that events published from now on reach
// it.
func waitConsuming(t *testing.T, hs ...*Handler) {
	t.Helper()
	for _, h := range hs {
		c := h.inval.consumer
		testenv.WaitFor(t, "the link-events consumer connected", eventWait, func() bool { return c.Stats().Connected })
	}
}

// answer runs GET /code through h and returns the status and Location.
func answer(t testing.TB, h *Handler, code string) (int, string) {
	t.Helper()
	w, err := serve(h, "GET", "/"+code, nil)
	if err != nil {
		t.Fatalf("GET /%s: %v", code, err)
	}
	return w.Code, w.Header().Get("Location")
}

// TestInvalidationAcrossEdges: two edges (separate pools, so separate L1s
// and consumers) on one PostgreSQL and Redis have three links cached. The
// control plane deletes one, updates one and disables one and publishes
// the events; both edges answer the new state within one second, with no
// help from the control plane in Redis (the edges delete the L2 keys).
func TestInvalidationAcrossEdges(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := postgresDSN(t)
	seed := seeder(t, dsn)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	del, upd, dis := newCode(t, "del"), newCode(t, "upd"), newCode(t, "dis")
	create(t, seed,
		linkstore.Link{Code: del, URL: "https://example.com/del"},
		linkstore.Link{Code: upd, URL: "https://example.com/upd"},
		linkstore.Link{Code: dis, URL: "https://example.com/dis"})

	edge := func(name string) *Handler {
		h := &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, keySalt: t.Name() + "/" + name}
		return provision(t, eventsHandler(h, k))
	}
	edges := []*Handler{edge("a"), edge("b")}
	if edges[0].l1 == edges[1].l1 || edges[0].inval == edges[1].inval {
		t.Fatal("the two edges share their L1 or consumer")
	}
	for _, h := range edges {
		for _, c := range []string{del, upd, dis} {
			if st, _ := answer(t, h, c); st != 302 {
				t.Fatalf("warm-up GET /%s: %d", c, st)
			}
		}
	}
	l2 := controlPlaneL2(t, redisAddr, prefix)
	ctx := context.Background()
	if _, ok, err := l2.Get(ctx, "", del); !ok || err != nil {
		t.Fatalf("L2 does not hold %s: %v", del, err)
	}
	// Edge b found the links in Redis: open its store as well, as on an
	// edge in service, so that opening it is not part of the figure.
	for _, h := range edges {
		if _, err := h.res.store.get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitConsuming(t, edges...)

	// The control plane's producer connects on its first event: warm it
	// (and both consumers' fetches) up with an event of another code, so
	// that the figure is the steady state's.
	p := linkEvents(t, k)
	p.Publish(linkevents.NewCreated(linkstore.Link{ID: 1, Code: newCode(t, "warm"), URL: "https://example.com/warm"}, time.Now()))
	for _, h := range edges {
		c := h.inval.consumer
		testenv.WaitFor(t, "the warm-up event applied", eventWait, func() bool { return c.Stats().Applied == 1 })
	}

	// The control plane: change the store, then publish.
	gone, err := seed.Delete(ctx, "", del)
	if err != nil {
		t.Fatal(err)
	}
	newURL, yes := "https://example.com/upd/new", true
	updated, err := seed.Update(ctx, "", upd, linkstore.Update{URL: &newURL})
	if err != nil {
		t.Fatal(err)
	}
	disabled, err := seed.Update(ctx, "", dis, linkstore.Update{Disabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Publish(linkevents.NewDeleted(linkstore.Link{Code: del, ID: gone.ID}, linkevents.ReasonAPI, start))
	p.Publish(linkevents.NewUpdated(updated, start))
	p.Publish(linkevents.NewUpdated(disabled, start))

	var wg sync.WaitGroup
	took := make([]time.Duration, len(edges))
	for i, h := range edges {
		wg.Go(func() {
			testenv.WaitFor(t, "the edge to apply the events", eventWait, func() bool {
				s1, _ := answer(t, h, del)
				s2, loc := answer(t, h, upd)
				s3, _ := answer(t, h, dis)
				return s1 == 404 && s2 == 302 && loc == newURL && s3 == 410
			})
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	t.Logf("publish to both edges answering the new state: edge a %s, edge b %s",
		took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))
	for i, d := range took {
		if d >= time.Second {
			t.Errorf("edge %d took %s, want under 1s", i, d)
		}
	}

	for _, h := range edges {
		if got := h.inval.consumer.Stats(); got.Applied != 4 || got.Failed != 0 {
			t.Errorf("consumer applied %d, failed %d; want 4 (the warm-up and 3), 0", got.Applied, got.Failed)
		}
		if got := (counter{h.metrics.invalidations}).Load(); got != 4 {
			t.Errorf("invalidations metric %d, want 4", got)
		}
		// The updated link was reloaded from the store (the event only
		// evicted it), with its new URL and ID.
		if e, url, ok := h.l1.Peek(upd); !ok || url != newURL || e.linkID != updated.ID {
			t.Errorf("L1 entry of %s: %+v %q, %v; want the new URL and ID", upd, e, url, ok)
		}
	}
	for _, c := range []string{del, upd, dis} {
		if _, ok, err := l2.Get(ctx, "", c); ok || err != nil {
			t.Errorf("L2 still holds %s (%v)", c, err)
		}
	}
}

// laggingStore is a real store behind a read replica that has stopped
// replaying: Lookup answers frozen codes as they were when frozen, while
// LookupPrimary (and Get) read the primary.
type laggingStore struct {
	linkstore.Store
	mu     sync.Mutex
	frozen map[string]linkstore.Link
}

func (s *laggingStore) freeze(t *testing.T, code string) {
	t.Helper()
	l, err := s.Store.Get(context.Background(), "", code)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen[code] = l
}

func (s *laggingStore) Lookup(ctx context.Context, domain, code string) (linkstore.Link, error) {
	s.mu.Lock()
	l, ok := s.frozen[code]
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	return s.Store.Lookup(ctx, domain, code)
}

// TestInvalidationLaggingReplica: after an event, the loads of its code
// go to the primary, so a replica still holding the old link cannot bring
// it back into L1: a deleted link (cached) and an updated one (not
// cached, so loaded after the event) answer their new state.
func TestInvalidationLaggingReplica(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	del, upd := newCode(t, "del"), newCode(t, "upd")
	create(t, seed, linkstore.Link{Code: del, URL: "https://example.com/del"}, linkstore.Link{Code: upd, URL: "https://example.com/upd"})
	lag := &laggingStore{frozen: make(map[string]linkstore.Link)}
	h := eventsHandler(&Handler{Database: dsn}, k)
	h.openStore = func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		s, err := backend.Open(ctx, cfg)
		lag.Store = s
		return lag, err
	}
	provision(t, h)
	if st, _ := answer(t, h, del); st != 302 {
		t.Fatalf("warm-up: %d", st)
	}
	lag.freeze(t, del)
	lag.freeze(t, upd)
	waitConsuming(t, h)

	ctx := context.Background()
	p := linkEvents(t, k)
	gone, err := seed.Delete(ctx, "", del)
	if err != nil {
		t.Fatal(err)
	}
	newURL := "https://example.com/upd/new"
	updated, err := seed.Update(ctx, "", upd, linkstore.Update{URL: &newURL})
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(linkevents.NewDeleted(linkstore.Link{Code: del, ID: gone.ID}, linkevents.ReasonAPI, time.Now()))
	p.Publish(linkevents.NewUpdated(updated, time.Now()))
	c := h.inval.consumer
	testenv.WaitFor(t, "both events applied", eventWait, func() bool { return c.Stats().Applied == 2 })

	for range 3 {
		if st, loc := answer(t, h, del); st != 404 {
			t.Fatalf("deleted %s: %d %q from the lagging replica; want 404", del, st, loc)
		}
		if st, loc := answer(t, h, upd); st != 302 || loc != newURL {
			t.Fatalf("updated %s: %d %q; want 302 to %s", upd, st, loc, newURL)
		}
	}
	// The replica's old answers are still what Lookup gives.
	if l, err := lag.Lookup(ctx, "", del); err != nil || l.URL != "https://example.com/del" {
		t.Fatalf("the lagging store stopped lagging: %v %v", l, err)
	}
}

// TestInvalidationCreatedClearsNegative: a created event drops a cached
// 404 at once (negative_ttl is an hour here).
func TestInvalidationCreatedClearsNegative(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	h := provision(t, eventsHandler(&Handler{Database: dsn, NegativeTTL: caddy.Duration(time.Hour)}, k))
	c := newCode(t, "new")
	if st, _ := answer(t, h, c); st != 404 {
		t.Fatalf("unknown code: %d", st)
	}
	waitConsuming(t, h)
	l := linkstore.Link{ID: 77, Code: c, URL: "https://example.com/new", CreatedAt: time.Now().UTC()}
	create(t, seed, l)
	if st, _ := answer(t, h, c); st != 404 {
		t.Fatalf("before the event: %d, want the cached 404", st)
	}
	start := time.Now()
	linkEvents(t, k).Publish(linkevents.NewCreated(l, start))
	testenv.WaitFor(t, "the new link to redirect", eventWait, func() bool {
		st, _ := answer(t, h, c)
		return st == 302
	})
	t.Logf("created event to redirect: %s", time.Since(start).Round(time.Millisecond))
}

// TestInvalidationCreatedDuringLoad: a load that read a code before its
// link existed, and ends after the created event, answers its own
// requests 404 but caches nothing: the next request redirects (with
// negative_ttl an hour, a cached 404 would last that long).
func TestInvalidationCreatedDuringLoad(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	release, started := make(chan struct{}), make(chan struct{})
	open := func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		s, err := backend.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &blockingStore{Store: s, started: started, release: release}, nil
	}
	h := provision(t, eventsHandler(&Handler{Database: dsn, NegativeTTL: caddy.Duration(time.Hour), openStore: open}, k))
	waitConsuming(t, h)
	c := newCode(t, "race")

	first := make(chan int, 1)
	go func() {
		w, _ := serve(h, "GET", "/"+c, nil)
		first <- w.Code
	}()
	// The load has read "no such code" and waits.
	testenv.Receive(t, started, 10*time.Second, "no lookup started")
	l := linkstore.Link{ID: 78, Code: c, URL: "https://example.com/race", CreatedAt: time.Now().UTC()}
	create(t, seed, l)
	linkEvents(t, k).Publish(linkevents.NewCreated(l, time.Now()))
	consumer := h.inval.consumer
	testenv.WaitFor(t, "the created event applied", eventWait, func() bool { return consumer.Stats().Applied == 1 })
	close(release)
	if st := <-first; st != 404 {
		t.Fatalf("the request whose load began before the link: %d, want 404", st)
	}
	if st, loc := answer(t, h, c); st != 302 || loc != l.URL {
		t.Fatalf("the next request: %d %q, want 302 to %s (no cached 404)", st, loc, l.URL)
	}
}

// TestRecentSet checks the bound of the codes read from the primary.
func TestRecentSet(t *testing.T) {
	t.Parallel()
	var s recentSet
	now := time.Now().UnixNano()
	if s.has("a", now) {
		t.Fatal("empty set has a")
	}
	s.add("a", now)
	if !s.has("a", now+int64(confirmWindow)-1) || s.has("b", now) {
		t.Fatal("a not remembered, or b is")
	}
	if s.has("a", now+int64(confirmWindow)) {
		t.Fatal("a remembered past the window")
	}
	for i := range maxRecent + 1 {
		s.add(strconv.Itoa(i), now)
	}
	if !s.has("anything", now+1) || s.has("anything", now+int64(confirmWindow)) {
		t.Fatal("after an overflow every code is confirmed for the window, and no longer")
	}
}
