package api_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/teststore"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

const eventsTopic = "shortify.link-events.test"

// eventsEnv is an API on SQLite whose link events go to a kfake broker.
func eventsEnv(t *testing.T, pcfg producer.Config) (*env, *kfake.Cluster, *producer.Producer) {
	t.Helper()
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, eventsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	pcfg.Brokers, pcfg.Topic, pcfg.Logger = k.ListenAddrs(), eventsTopic, slog.New(slog.DiscardHandler)
	p, err := producer.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s := teststore.SQLite(t)
	e := &env{store: s, issuer: newIssuer(t, 1), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	h, err := newAPI(t, api.Config{Now: func() time.Time { return e.now }}, api.Deps{Store: s, Issuer: e.issuer, Events: p})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e, k, p
}

// TestLinkEvents: a create publishes the new link, an update its new state
// (disabled when it disables the link), a delete a deletion with the
// link's ID; refused requests
// publish nothing. The events of the code arrive in order, keyed by it.
func TestLinkEvents(t *testing.T) {
	e, k, p := eventsEnv(t, producer.Config{})
	l := e.mustCreate(t, `{"url":"https://example.com/a"}`)
	path := "/api/v1/links/" + l.Code

	for _, body := range []string{
		`{"url":"https://example.com/b","redirect_status":301,"expires_at":"2031-01-01T00:00:00Z"}`,
		`{"disabled":true}`,
	} {
		if w := e.do(t, "PATCH", path, "application/json", body); w.Code != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", body, w.Code, w.Body.String())
		}
	}
	// Refused: nothing changes, nothing is published.
	wantProblem(t, e.do(t, "PATCH", path, "application/json", `{"redirect_status":303}`), 400, "303")
	wantProblem(t, e.do(t, "PATCH", "/api/v1/links/nosuchcode", "application/json", `{"disabled":true}`), 404, "nosuchcode")
	wantProblem(t, e.do(t, "DELETE", "/api/v1/links/nosuchcode", "", ""), 404, "nosuchcode")
	if w := e.do(t, "DELETE", path, "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body.String())
	}

	waitFor(t, "4 events published", func() bool { return p.Stats().Published == 4 })
	events := kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], eventsTopic, 4)
	want := []linkevents.Event{
		{Type: linkevents.Created, Code: l.Code, At: e.now, State: linkevents.State{URL: "https://example.com/a"}},
		{Type: linkevents.Updated, Code: l.Code, At: e.now, State: linkevents.State{
			URL: "https://example.com/b", Status: 301, ExpiresAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Type: linkevents.Disabled, Code: l.Code, At: e.now, State: linkevents.State{
			URL: "https://example.com/b", Status: 301, ExpiresAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), Disabled: true}},
		{Type: linkevents.Deleted, Code: l.Code, At: e.now, Reason: linkevents.ReasonAPI},
	}
	id, err := strconv.ParseInt(l.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].LinkID = id // the delete's too: the store returns the row
	}
	for i, got := range events {
		w := want[i]
		if got.Type != w.Type || got.Code != w.Code || got.LinkID != w.LinkID || !got.At.Equal(w.At) ||
			got.Reason != w.Reason || got.State.URL != w.State.URL || got.State.Status != w.State.Status ||
			!got.State.ExpiresAt.Equal(w.State.ExpiresAt) || got.State.Disabled != w.State.Disabled {
			t.Errorf("event %d: got %+v, want %+v", i, got, w)
		}
	}
	if s := p.Stats(); s.Published != 4 || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("producer: %+v, want exactly 4 events", s)
	}
}

// TestCreatedEvents: every link a create stores, single or in a bulk, is
// announced with its ID and state; the creates that fail announce nothing.
func TestCreatedEvents(t *testing.T) {
	e, k, p := eventsEnv(t, producer.Config{})
	single := e.mustCreate(t, `{"url":"https://example.com/one","alias":"one-alias","redirect_status":307,"expires_at":"2031-01-01T00:00:00Z"}`)
	wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://example.com/x","alias":"one-alias"}`), 409, "taken")
	wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"ftp://example.com/x"}`), 400, "")
	w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[
		{"url":"https://example.com/b1"},
		{"url":"javascript:alert(1)"},
		{"url":"https://example.com/b3","alias":"one-alias"},
		{"url":"https://example.com/b4","alias":"bulk-alias"}
	]}`)
	resp := decode[api.BulkResponse](t, w)
	if w.Code != http.StatusOK || resp.Created != 2 {
		t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
	}
	stored := []api.Link{single, *resp.Results[0].Link, *resp.Results[3].Link}

	waitFor(t, "3 events published", func() bool { return p.Stats().Published == 3 })
	events := kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], eventsTopic, 3)
	byCode := map[string]linkevents.Event{}
	for _, ev := range events {
		byCode[ev.Code] = ev
	}
	for _, l := range stored {
		ev, ok := byCode[l.Code]
		id, _ := strconv.ParseInt(l.ID, 10, 64)
		if !ok || ev.Type != linkevents.Created || ev.LinkID != id || id == 0 || !ev.At.Equal(e.now) ||
			ev.State.URL != l.URL || ev.State.Status != l.RedirectStatus || ev.State.Disabled {
			t.Errorf("link %+v: event %+v", l, ev)
		}
	}
	if ev := byCode["one-alias"]; !ev.State.ExpiresAt.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) || ev.State.Status != 307 {
		t.Errorf("single create's event %+v", ev)
	}
	if s := p.Stats(); s.Published != 3 || s.Dropped != 0 {
		t.Fatalf("producer: %+v, want exactly 3 events", s)
	}
}

// TestLinkEventsNeverBlock: with Kafka down and the buffer full, creates,
// updates and deletes still succeed at once; the events
// that do not fit are dropped and counted.
func TestLinkEventsNeverBlock(t *testing.T) {
	e, k, p := eventsEnv(t, producer.Config{MaxBufferedRecords: 1, CloseTimeout: 100 * time.Millisecond})
	l := e.mustCreate(t, `{"url":"https://example.com/a"}`)
	waitFor(t, "the create's event published", func() bool { return p.Stats().Published == 1 })
	k.Close()
	start := time.Now()
	w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[{"url":"https://example.com/b"},{"url":"https://example.com/c"}]}`)
	if resp := decode[api.BulkResponse](t, w); w.Code != http.StatusOK || resp.Created != 2 {
		t.Fatalf("bulk with Kafka down: %d %s", w.Code, w.Body.String())
	}
	for _, body := range []string{`{"disabled":true}`, `{"disabled":false}`, `{"url":"https://example.com/c"}`} {
		if w := e.do(t, "PATCH", "/api/v1/links/"+l.Code, "application/json", body); w.Code != http.StatusOK {
			t.Fatalf("PATCH %s with Kafka down: %d %s", body, w.Code, w.Body.String())
		}
	}
	if w := e.do(t, "DELETE", "/api/v1/links/"+l.Code, "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE with Kafka down: %d", w.Code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("5 requests with Kafka down took %s", d)
	}
	waitFor(t, "5 events dropped", func() bool { return p.Stats().Dropped == 5 })
	if s := p.Stats(); s.Buffered != 1 || s.Published != 1 {
		t.Fatalf("producer: %+v, want 1 published, 1 buffered and 5 dropped", s)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}
