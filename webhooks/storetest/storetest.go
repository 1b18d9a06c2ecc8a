// Package storetest is the conformance suite of webhooks.Store: every
// implementation (webhooks/store on PostgreSQL and on SQLite) runs it, so
// that both dialects behave alike. Times are explicit (a Clock the test
// moves), never slept for.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/webhooks"
)

// Clock is a settable clock for the store under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Opener opens a new, empty store whose clock is now.
type Opener func(t *testing.T, now func() time.Time) webhooks.Store

// Run runs every test of the suite on stores that open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s webhooks.Store, c *Clock)
	}{
		{"Endpoints", testEndpoints},
		{"Workspaces", testWorkspaces},
		{"TooMany", testTooMany},
		{"Enqueue", testEnqueue},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Record", testRecord},
		{"Failing", testFailing},
		{"Deliveries", testDeliveries},
		{"Replay", testReplay},
		{"Prune", testPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Clock{}
			c.Set(T0)
			tt.fn(t, open(t, c.Now), c)
		})
	}
}

// T0 is when every test starts.
var T0 = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

const (
	wsA int64 = 1
	wsB int64 = 2
)

func endpoint(ws int64, url string, evs ...webhooks.Event) webhooks.Endpoint {
	if len(evs) == 0 {
		evs = webhooks.Events
	}
	return webhooks.Endpoint{Workspace: ws, URL: url, Events: evs, Secret: "whsec_test", Description: "d"}
}

func create(t *testing.T, s webhooks.Store, e webhooks.Endpoint) webhooks.Endpoint {
	t.Helper()
	got, err := s.CreateEndpoint(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func delivery(e webhooks.Endpoint, id string) webhooks.Delivery {
	return webhooks.Delivery{ID: id, Endpoint: e.ID, Workspace: e.Workspace, Event: webhooks.LinkCreated,
		Payload: []byte(`{"id":"` + id + `"}`), CreatedAt: T0}
}

func enqueue(t *testing.T, s webhooks.Store, ds ...webhooks.Delivery) {
	t.Helper()
	if err := s.Enqueue(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
}

func ids(ds []webhooks.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func one(t *testing.T, s webhooks.Store, e webhooks.Endpoint, id string) webhooks.Delivery {
	t.Helper()
	ds, err := s.Deliveries(t.Context(), e.Workspace, webhooks.DeliveryQuery{Endpoint: e.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no delivery %s in %v", id, ids(ds))
	return webhooks.Delivery{}
}

func testEndpoints(t *testing.T, s webhooks.Store, c *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook", webhooks.LinkCreated, webhooks.LinkClicked))
	if len(a.ID) != 25 || a.ID[:3] != "wh_" || !a.CreatedAt.Equal(T0) || !a.UpdatedAt.Equal(T0) {
		t.Errorf("created %+v", a)
	}
	got, err := s.Endpoint(ctx, wsA, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != a.URL || !slices.Equal(got.Events, a.Events) || got.Secret != "whsec_test" || got.Description != "d" || got.Disabled || !got.CreatedAt.Equal(T0) {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	b := create(t, s, endpoint(wsA, "https://b.example/hook", webhooks.LinkDeleted))
	list, err := s.Endpoints(ctx, wsA)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	subs, err := s.Subscribers(ctx, wsA, webhooks.LinkClicked)
	if err != nil || len(subs) != 1 || subs[0].ID != a.ID {
		t.Errorf("subscribers of link.clicked: %v, %v", subs, err)
	}

	c.Set(T0.Add(time.Minute))
	url, desc, secret := "https://a.example/v2", "", "whsec_new"
	up, err := s.UpdateEndpoint(ctx, wsA, a.ID, webhooks.EndpointPatch{URL: &url, Description: &desc, Secret: &secret, Events: []webhooks.Event{webhooks.LinkUpdated}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.Endpoint(ctx, wsA, a.ID)
	for _, e := range []webhooks.Endpoint{up, got} {
		if e.URL != url || e.Description != "" || e.Secret != secret || !slices.Equal(e.Events, []webhooks.Event{webhooks.LinkUpdated}) ||
			!e.UpdatedAt.Equal(T0.Add(time.Minute)) || !e.CreatedAt.Equal(T0) {
			t.Errorf("updated %+v", e)
		}
	}
	yes := true
	up, err = s.UpdateEndpoint(ctx, wsA, a.ID, webhooks.EndpointPatch{Disabled: &yes})
	if err != nil || !up.Disabled || up.DisabledReason != "user" || !up.DisabledAt.Equal(T0.Add(time.Minute)) || up.URL != url {
		t.Errorf("disabled: %+v, %v", up, err)
	}
	if subs, _ := s.Subscribers(ctx, wsA, webhooks.LinkUpdated); len(subs) != 0 {
		t.Errorf("a disabled endpoint subscribes: %v", subs)
	}

	if err := s.DeleteEndpoint(ctx, wsA, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Endpoint(ctx, wsA, b.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("deleted endpoint: %v", err)
	}
	if err := s.DeleteEndpoint(ctx, wsA, b.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}

// testWorkspaces: another workspace's IDs are not found by any method,
// and change nothing.
func testWorkspaces(t *testing.T, s webhooks.Store, _ *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	enqueue(t, s, delivery(a, "msg_1"))
	// A delivery claiming workspace B for A's endpoint lands nowhere.
	enqueue(t, s, webhooks.Delivery{ID: "msg_2", Endpoint: a.ID, Workspace: wsB, Event: webhooks.LinkCreated})
	if _, err := s.Endpoint(ctx, wsB, a.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Endpoint: %v", err)
	}
	if list, err := s.Endpoints(ctx, wsB); err != nil || len(list) != 0 {
		t.Errorf("Endpoints: %v, %v", list, err)
	}
	if subs, err := s.Subscribers(ctx, wsB, webhooks.LinkCreated); err != nil || len(subs) != 0 {
		t.Errorf("Subscribers: %v, %v", subs, err)
	}
	url := "https://evil.example/"
	if _, err := s.UpdateEndpoint(ctx, wsB, a.ID, webhooks.EndpointPatch{URL: &url}); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("UpdateEndpoint: %v", err)
	}
	if err := s.DeleteEndpoint(ctx, wsB, a.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("DeleteEndpoint: %v", err)
	}
	if _, err := s.Deliveries(ctx, wsB, webhooks.DeliveryQuery{Endpoint: a.ID}); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Deliveries: %v", err)
	}
	if _, err := s.Replay(ctx, wsB, a.ID, "msg_1"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("Replay: %v", err)
	}
	got, err := s.Endpoint(ctx, wsA, a.ID)
	if err != nil || got.URL != "https://a.example/hook" {
		t.Errorf("A's endpoint changed: %+v, %v", got, err)
	}
	ds, err := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID})
	if err != nil || !slices.Equal(ids(ds), []string{"msg_1"}) || ds[0].Workspace != wsA {
		t.Errorf("A's log: %v, %v", ids(ds), err)
	}
}

// testTooMany: a workspace holds MaxEndpointsPerWorkspace endpoints, even
// when creates race; another workspace is not counted.
func testTooMany(t *testing.T, s webhooks.Store, _ *Clock) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range webhooks.MaxEndpointsPerWorkspace + 5 {
		wg.Go(func() {
			_, err := s.CreateEndpoint(t.Context(), endpoint(wsA, fmt.Sprintf("https://a.example/%d", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, webhooks.ErrTooMany):
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if made != webhooks.MaxEndpointsPerWorkspace || refused != 5 {
		t.Errorf("%d made, %d refused", made, refused)
	}
	create(t, s, endpoint(wsB, "https://b.example/"))
}

func testEnqueue(t *testing.T, s webhooks.Store, c *Clock) {
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	d := delivery(a, "msg_1")
	enqueue(t, s, d)
	again := d
	again.Payload = []byte(`{"other":true}`)
	enqueue(t, s, again, delivery(a, "msg_2"))
	// An endpoint that is gone: nothing, no error.
	enqueue(t, s, webhooks.Delivery{ID: "msg_3", Endpoint: "wh_gone", Workspace: wsA, Event: webhooks.LinkCreated})
	ds, err := s.Deliveries(t.Context(), wsA, webhooks.DeliveryQuery{Endpoint: a.ID})
	if err != nil || !slices.Equal(ids(ds), []string{"msg_2", "msg_1"}) {
		t.Fatalf("log: %v, %v", ids(ds), err)
	}
	got := ds[1]
	if string(got.Payload) != `{"id":"msg_1"}` || got.State != webhooks.Pending || got.Attempts != 0 ||
		!got.NextAttempt.Equal(T0) || !got.CreatedAt.Equal(T0) || got.Event != webhooks.LinkCreated || got.Endpoint != a.ID {
		t.Errorf("enqueued %+v", got)
	}
	// The same ID to another endpoint is another delivery.
	b := create(t, s, endpoint(wsA, "https://b.example/hook"))
	enqueue(t, s, delivery(b, "msg_1"))
	if got := one(t, s, b, "msg_1"); got.Endpoint != b.ID {
		t.Errorf("%+v", got)
	}
}

func testClaim(t *testing.T, s webhooks.Store, c *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	off := create(t, s, endpoint(wsA, "https://off.example/hook"))
	yes := true
	if _, err := s.UpdateEndpoint(ctx, wsA, off.ID, webhooks.EndpointPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, delivery(a, "msg_1"), delivery(a, "msg_2"), delivery(a, "msg_3"), delivery(off, "msg_4"))
	later := delivery(a, "msg_5")
	later.NextAttempt = T0.Add(time.Hour)
	enqueue(t, s, later)

	claim := func(now time.Time, limit int) []webhooks.Delivery {
		t.Helper()
		ds, err := s.Claim(ctx, now, time.Minute, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	first := claim(T0, 2)
	if len(first) != 2 || !first[0].NextAttempt.Equal(T0.Add(time.Minute)) || string(first[0].Payload) == "" {
		t.Fatalf("first claim: %+v", first)
	}
	second := claim(T0.Add(time.Second), 10)
	if len(second) != 1 || slices.Contains(ids(first), second[0].ID) {
		t.Fatalf("second claim: %v after %v", ids(second), ids(first))
	}
	if got := claim(T0.Add(30*time.Second), 10); len(got) != 0 {
		t.Errorf("leased deliveries claimed again: %v", ids(got))
	}
	// Leases over: the three are due again; msg_5 not yet, msg_4's
	// endpoint is disabled.
	got := ids(claim(T0.Add(2*time.Minute), 10))
	slices.Sort(got)
	if !slices.Equal(got, []string{"msg_1", "msg_2", "msg_3"}) {
		t.Errorf("after the lease: %v", got)
	}
	if got := claim(T0.Add(2*time.Hour), 0); len(got) != 0 {
		t.Errorf("limit 0: %v", ids(got))
	}
}

// testClaimConcurrent: Claims at once never return one delivery twice.
func testClaimConcurrent(t *testing.T, s webhooks.Store, _ *Clock) {
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	const n = 60
	var ds []webhooks.Delivery
	for i := range n {
		ds = append(ds, delivery(a, fmt.Sprintf("msg_%02d", i)))
	}
	enqueue(t, s, ds...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				got, err := s.Claim(t.Context(), T0, time.Hour, 5)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d deliveries claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s claimed %d times", id, k)
		}
	}
}

func testRecord(t *testing.T, s webhooks.Store, _ *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	enqueue(t, s, delivery(a, "msg_ok"), delivery(a, "msg_retry"), delivery(a, "msg_fail"))
	at := T0.Add(time.Second)
	if err := s.Record(ctx, delivery(a, "msg_retry"), webhooks.Attempt{At: at, Status: 503, Err: "status 503", Next: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	d := one(t, s, a, "msg_retry")
	if d.State != webhooks.Pending || d.Attempts != 1 || d.LastStatus != 503 || d.LastError != "status 503" ||
		!d.LastAttempt.Equal(at) || !d.NextAttempt.Equal(at.Add(time.Minute)) {
		t.Errorf("retry: %+v", d)
	}
	if e, _ := s.Endpoint(ctx, wsA, a.ID); !e.FailingSince.Equal(at) {
		t.Errorf("failing since %v, want %v", e.FailingSince, at)
	}
	// A second failure keeps FailingSince.
	if err := s.Record(ctx, delivery(a, "msg_fail"), webhooks.Attempt{At: at.Add(time.Second), Err: "connection refused"}); err != nil {
		t.Fatal(err)
	}
	if d := one(t, s, a, "msg_fail"); d.State != webhooks.Failed || d.LastStatus != 0 || d.LastError != "connection refused" {
		t.Errorf("failed: %+v", d)
	}
	if e, _ := s.Endpoint(ctx, wsA, a.ID); !e.FailingSince.Equal(at) || e.Disabled {
		t.Errorf("after the second failure: %+v", e)
	}
	// A success delivers and clears it.
	if err := s.Record(ctx, delivery(a, "msg_ok"), webhooks.Attempt{At: at.Add(2 * time.Second), Status: 204}); err != nil {
		t.Fatal(err)
	}
	if d := one(t, s, a, "msg_ok"); d.State != webhooks.Delivered || d.Attempts != 1 || d.LastStatus != 204 || d.LastError != "" {
		t.Errorf("delivered: %+v", d)
	}
	if e, _ := s.Endpoint(ctx, wsA, a.ID); !e.FailingSince.IsZero() {
		t.Errorf("still failing since %v after a success", e.FailingSince)
	}
	if err := s.Record(ctx, webhooks.Delivery{ID: "msg_none", Endpoint: a.ID}, webhooks.Attempt{At: at}); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown delivery: %v", err)
	}
}

// testFailing: an endpoint failing for RetryFor is disabled ("failing")
// and its pending deliveries fail; enabling clears it all.
func testFailing(t *testing.T, s webhooks.Store, c *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	enqueue(t, s, delivery(a, "msg_1"), delivery(a, "msg_2"))
	fail := func(at time.Time) {
		t.Helper()
		err := s.Record(ctx, delivery(a, "msg_1"), webhooks.Attempt{At: at, Status: 500, Err: "status 500", Next: at.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	fail(T0)
	fail(T0.Add(webhooks.RetryFor - time.Second))
	if e, _ := s.Endpoint(ctx, wsA, a.ID); e.Disabled {
		t.Fatalf("disabled before RetryFor: %+v", e)
	}
	end := T0.Add(webhooks.RetryFor)
	fail(end)
	e, err := s.Endpoint(ctx, wsA, a.ID)
	if err != nil || !e.Disabled || e.DisabledReason != "failing" || !e.DisabledAt.Equal(end) || !e.FailingSince.Equal(T0) {
		t.Fatalf("after RetryFor: %+v, %v", e, err)
	}
	for _, id := range []string{"msg_1", "msg_2"} {
		if d := one(t, s, a, id); d.State != webhooks.Failed {
			t.Errorf("%s of a disabled endpoint: %+v", id, d)
		}
	}
	no := false
	c.Set(end.Add(time.Hour))
	e, err = s.UpdateEndpoint(ctx, wsA, a.ID, webhooks.EndpointPatch{Disabled: &no})
	if err != nil || e.Disabled || e.DisabledReason != "" || !e.DisabledAt.IsZero() || !e.FailingSince.IsZero() {
		t.Errorf("enabled: %+v, %v", e, err)
	}
	if subs, _ := s.Subscribers(ctx, wsA, webhooks.LinkCreated); len(subs) != 1 {
		t.Errorf("enabled endpoint not subscribed: %v", subs)
	}
}

func testDeliveries(t *testing.T, s webhooks.Store, _ *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	for i := range 5 {
		enqueue(t, s, delivery(a, fmt.Sprintf("msg_%d", i)))
	}
	if err := s.Record(ctx, delivery(a, "msg_1"), webhooks.Attempt{At: T0, Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, delivery(a, "msg_3"), webhooks.Attempt{At: T0, Status: 200}); err != nil {
		t.Fatal(err)
	}
	var pages [][]string
	before := ""
	for range 5 {
		ds, err := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID, Before: before, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		pages = append(pages, ids(ds))
		before = ds[len(ds)-1].ID
	}
	want := [][]string{{"msg_4", "msg_3"}, {"msg_2", "msg_1"}, {"msg_0"}}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages %v, want %v", pages, want)
	}
	ds, err := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID, State: webhooks.Delivered})
	if err != nil || !slices.Equal(ids(ds), []string{"msg_3", "msg_1"}) {
		t.Errorf("delivered: %v, %v", ids(ds), err)
	}
	ds, err = s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID, State: webhooks.Pending, Before: "msg_2"})
	if err != nil || !slices.Equal(ids(ds), []string{"msg_0"}) {
		t.Errorf("pending before msg_2: %v, %v", ids(ds), err)
	}
	if ds, err := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID, Before: "msg_unknown"}); err != nil || len(ds) != 0 {
		t.Errorf("unknown cursor: %v, %v", ids(ds), err)
	}
	if _, err := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: "wh_none"}); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown endpoint: %v", err)
	}
}

func testReplay(t *testing.T, s webhooks.Store, c *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	enqueue(t, s, delivery(a, "msg_1"))
	if err := s.Record(ctx, delivery(a, "msg_1"), webhooks.Attempt{At: T0, Status: 410, Err: "status 410"}); err != nil {
		t.Fatal(err)
	}
	now := T0.Add(48 * time.Hour)
	c.Set(now)
	d, err := s.Replay(ctx, wsA, a.ID, "msg_1")
	if err != nil || d.ID != "msg_1" || d.State != webhooks.Pending || !d.NextAttempt.Equal(now) || d.Attempts != 1 {
		t.Fatalf("replayed: %+v, %v", d, err)
	}
	got, err := s.Claim(ctx, now, time.Minute, 10)
	if err != nil || !slices.Equal(ids(got), []string{"msg_1"}) {
		t.Errorf("claim after replay: %v, %v", ids(got), err)
	}
	if _, err := s.Replay(ctx, wsA, a.ID, "msg_none"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("unknown delivery: %v", err)
	}
	// Deleting the endpoint deletes its deliveries.
	if err := s.DeleteEndpoint(ctx, wsA, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replay(ctx, wsA, a.ID, "msg_1"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("replay after delete: %v", err)
	}
	if got, err := s.Claim(ctx, now.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claim after delete: %v, %v", ids(got), err)
	}
}

func testPrune(t *testing.T, s webhooks.Store, _ *Clock) {
	ctx := t.Context()
	a := create(t, s, endpoint(wsA, "https://a.example/hook"))
	enqueue(t, s, delivery(a, "msg_old"), delivery(a, "msg_new"), delivery(a, "msg_pending"), delivery(a, "msg_failed"))
	for _, r := range []struct {
		id string
		a  webhooks.Attempt
	}{
		{"msg_old", webhooks.Attempt{At: T0, Status: 200}},
		{"msg_new", webhooks.Attempt{At: T0.Add(48 * time.Hour), Status: 200}},
		{"msg_failed", webhooks.Attempt{At: T0.Add(time.Hour), Err: "x"}},
	} {
		if err := s.Record(ctx, delivery(a, r.id), r.a); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx, T0.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("pruned %d, %v; want 2", n, err)
	}
	ds, _ := s.Deliveries(ctx, wsA, webhooks.DeliveryQuery{Endpoint: a.ID})
	got := ids(ds)
	slices.Sort(got)
	if !slices.Equal(got, []string{"msg_new", "msg_pending"}) {
		t.Errorf("left %v", got)
	}
}
