package deliver_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/testkit/webhooktest"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/deliver"
	"github.com/shortify/shortify/webhooks/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	clicksTopic = "clicks"
	eventsTopic = "shortify.link-events"
	within      = 30 * time.Second
)

// env is one test's deliverer world: a kfake broker, a PostgreSQL schema
// with the link store and the webhooks store, and the deliverer's parts.
type env struct {
	t      testing.TB
	broker *kafkatest.Broker
	links  linkstore.Store
	whs    *store.Store
	nextID int64
}

func setup(t testing.TB) *env {
	t.Helper()
	dsn := testenv.Schema(t)
	links := teststore.Postgres(t, dsn)
	whs, err := store.Open(t.Context(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(whs.Close)
	return &env{t: t, broker: kafkatest.StartBroker(t, 4, clicksTopic, eventsTopic), links: links, whs: whs, nextID: 1000}
}

// newSecret is a Standard Webhooks secret.
func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// endpoint creates an endpoint of ws at url for evs.
func (e *env) endpoint(ws int64, url, secret string, evs ...webhooks.Event) webhooks.Endpoint {
	e.t.Helper()
	ep, err := e.whs.CreateEndpoint(e.t.Context(), webhooks.Endpoint{Workspace: ws, URL: url, Events: evs, Secret: secret})
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// link creates a link of ws and returns it.
func (e *env) link(ws int64, code, url string) linkstore.Link {
	e.t.Helper()
	e.nextID++
	l := linkstore.Link{ID: e.nextID, Code: code, URL: url, WorkspaceID: ws, CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		Title: "Title of " + code, Tags: []string{"t1"}}
	if err := e.links.Create(e.t.Context(), l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// eventRecord is the record of a link event.
func eventRecord(t testing.TB, ev linkevents.Event) *kgo.Record {
	t.Helper()
	v, err := linkevents.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: eventsTopic, Key: ev.Key(), Value: v, Timestamp: ev.At}
}

// clickRecord is the record of a click on l.
func clickRecord(t testing.TB, l linkstore.Link, i int) *kgo.Record {
	t.Helper()
	ev := clickevents.Event{
		Time: time.Now(), Code: l.Code, LinkID: l.ID, Status: 302, Visitor: 0xfeedface, Country: "FR",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		Referrer:  fmt.Sprintf("https://ref.example/page/%d?private=1", i), Workspace: l.WorkspaceID,
	}
	v, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: clicksTopic, Key: ev.Key(), Value: v, Timestamp: ev.Time}
}

func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	for _, r := range recs {
		kafkatest.Produce(e.t, e.broker.Addr(), r.Topic, r)
	}
}

// options change a run's configuration.
type options struct {
	group   string
	backoff func(int, float64) (time.Duration, bool)
	private bool // endpoints may be on loopback (the tests' receivers are)
	metrics *deliver.Metrics
}

// run runs a consumer and a sender until the test ends (or stop).
func (e *env) run(o options) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sender, err := deliver.NewSender(deliver.SenderConfig{
		Store:   e.whs,
		Client:  safedial.Client(safedial.Options{AllowPrivate: o.private, Timeout: 5 * time.Second}),
		Timeout: 5 * time.Second, Idle: 20 * time.Millisecond, Backoff: o.backoff, Metrics: o.metrics,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := deliver.NewConsumer(deliver.ConsumerConfig{
		Brokers: []string{e.broker.Addr()}, ClicksTopic: clicksTopic, LinkEventsTopic: eventsTopic,
		Group: o.group, SessionTimeout: 6 * time.Second, Store: e.whs, Links: e.links, PublicURL: "https://s.example",
		Window: 200 * time.Millisecond, OnEnqueue: sender.Kick, Metrics: o.metrics,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = sender.Run(ctx) })
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			e.t.Errorf("consumer: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

func fast(attempts int, _ float64) (time.Duration, bool) {
	return 10 * time.Millisecond, attempts < 5
}

// TestDelivers: link events and clicks reach the subscribed endpoints
// of their workspace only, signed, with the link's state from the store;
// a disabled endpoint and another workspace's get nothing.
func TestDelivers(t *testing.T) {
	e := setup(t)
	secretA, secretB, secretOff := newSecret(), newSecret(), newSecret()
	recvA := webhooktest.NewReceiver(t, secretA)
	recvB := webhooktest.NewReceiver(t, secretB)
	recvOff := webhooktest.NewReceiver(t, secretOff)
	recvLinksOnly := webhooktest.NewReceiver(t, secretA)
	epA := e.endpoint(1, recvA.URL(), secretA, webhooks.Events...)
	e.endpoint(2, recvB.URL(), secretB, webhooks.Events...)
	off := e.endpoint(1, recvOff.URL(), secretOff, webhooks.Events...)
	disabled := true
	if _, err := e.whs.UpdateEndpoint(t.Context(), 1, off.ID, webhooks.EndpointPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	e.endpoint(1, recvLinksOnly.URL(), secretA, webhooks.LinkCreated)

	la := e.link(1, "aaa111", "https://a.example/one")
	lb := e.link(2, "bbb222", "https://b.example/two")
	now := time.Now()
	created := linkevents.NewCreated(la, now)
	created.State.URL = "https://forged.example/" // never trusted: the payload is the store's
	forged := linkevents.NewCreated(la, now)
	forged.LinkID = 999 // not the store's link: nothing is sent
	deleted := linkevents.NewDeleted(lb, linkevents.ReasonAPI, now)
	e.produce(eventRecord(t, created), eventRecord(t, forged), eventRecord(t, linkevents.NewCreated(lb, now)),
		eventRecord(t, deleted), &kgo.Record{Topic: eventsTopic, Key: []byte("x"), Value: []byte("garbage")})
	var clicks []*kgo.Record
	for i := range 130 {
		clicks = append(clicks, clickRecord(t, la, i))
	}
	clicks = append(clicks, clickRecord(t, lb, 0))
	e.produce(clicks...)

	m := deliver.NewMetrics()
	e.run(options{group: "g-delivers", private: true, metrics: m})
	testenv.WaitFor(t, "A's created event and 130 clicks", within, func() bool {
		got, _ := recvA.Clicks()
		return len(got) == 130 && countType(recvA, webhooks.LinkCreated) == 1
	})
	testenv.WaitFor(t, "B's created and deleted events and its click", within, func() bool {
		got, _ := recvB.Clicks()
		return len(got) == 1 && countType(recvB, webhooks.LinkCreated) == 1 && countType(recvB, webhooks.LinkDeleted) == 1
	})
	testenv.WaitFor(t, "the links-only endpoint's created event", within, func() bool {
		return len(recvLinksOnly.Messages()) == 1
	})

	for _, m := range recvA.Messages() {
		switch m.Type {
		case webhooks.LinkCreated:
			if m.Link.URL != la.URL || m.Link.Code != la.Code || m.Link.LinkID != fmt.Sprint(la.ID) ||
				m.Link.ShortURL != "https://s.example/aaa111" || m.Link.Title != la.Title || m.Link.Workspace != 1 {
				t.Errorf("A's created payload %s", m.Body)
			}
		case webhooks.LinkClicked:
			if len(m.Clicks) > webhooks.MaxClicksPerDelivery {
				t.Errorf("a batch of %d clicks", len(m.Clicks))
			}
			for _, c := range m.Clicks {
				if c.Code != la.Code || c.Country != "FR" || c.Browser != "Chrome" || c.ReferrerHost != "ref.example" {
					t.Errorf("A's click %+v", c)
				}
			}
			if strings.Contains(string(m.Body), "private") || strings.Contains(string(m.Body), "Mozilla") {
				t.Errorf("a click payload carries the referrer's path or the raw agent: %s", m.Body)
			}
		default:
			t.Errorf("A got %s: %s", m.Type, m.Body)
		}
	}
	for _, m := range recvB.Messages() {
		if strings.Contains(string(m.Body), la.Code) {
			t.Errorf("workspace B's endpoint got A's event: %s", m.Body)
		}
		if m.Type == webhooks.LinkDeleted && (m.Deleted.Code != lb.Code || m.Deleted.Reason != "api" || m.Deleted.Workspace != 2) {
			t.Errorf("B's deleted payload %s", m.Body)
		}
	}
	if m := recvLinksOnly.Messages(); m[0].Type != webhooks.LinkCreated {
		t.Errorf("the links-only endpoint got %s", m[0].Type)
	}
	for _, r := range []*webhooktest.Receiver{recvA, recvB, recvLinksOnly} {
		if bad := r.Refused(); len(bad) > 0 {
			t.Errorf("refused requests: %v", bad)
		}
	}
	if n := len(recvOff.Messages()) + len(recvOff.Refused()); n != 0 {
		t.Errorf("the disabled endpoint got %d requests", n)
	}
	s := samples(t, m)
	if s["shortify_webhooks_records_skipped_total{reason=undecodable}"] != 1 || s["shortify_webhooks_records_skipped_total{reason=stale}"] != 1 {
		t.Errorf("skipped records: %v", s)
	}
	// The log shows A's deliveries delivered (once the sender has
	// recorded the answers the receiver gave).
	var ds []webhooks.Delivery
	testenv.WaitFor(t, "A's deliveries recorded", within, func() bool {
		var err error
		ds, err = e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: epA.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.State == webhooks.Pending {
				return false
			}
		}
		return true
	})
	for _, d := range ds {
		if d.State != webhooks.Delivered || d.Attempts != 1 || d.LastStatus != http.StatusNoContent {
			t.Errorf("delivery %s: %s after %d attempts, status %d", d.ID, d.State, d.Attempts, d.LastStatus)
		}
	}
	// The other workspace cannot read A's log.
	if _, err := e.whs.Deliveries(t.Context(), 2, webhooks.DeliveryQuery{Endpoint: epA.ID}); err == nil {
		t.Error("workspace 2 read workspace 1's delivery log")
	}
}

func countType(r *webhooktest.Receiver, ev webhooks.Event) int {
	n := 0
	for _, m := range r.Messages() {
		if m.Type == ev {
			n++
		}
	}
	return n
}

// TestRetriesKeepTheID: a receiver that fails the first attempts gets
// the same webhook-id on every one, and the delivery ends delivered.
func TestRetriesKeepTheID(t *testing.T) {
	e := setup(t)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	recv.FailFirst(3)
	ep := e.endpoint(1, recv.URL(), secret, webhooks.LinkCreated)
	l := e.link(1, "retry1", "https://r.example/")
	e.produce(eventRecord(t, linkevents.NewCreated(l, time.Now())))
	m := deliver.NewMetrics()
	e.run(options{group: "g-retry", backoff: fast, private: true, metrics: m})
	testenv.WaitFor(t, "the delivery after 3 failures", within, func() bool { return len(recv.Messages()) == 1 })
	id := recv.Messages()[0].ID
	if n := recv.Attempts(id); n != 4 {
		t.Fatalf("%d attempts with webhook-id %s, want 4", n, id)
	}
	for _, tp := range recv.Traceparents(id) {
		if tp != "" {
			t.Errorf("an attempt with tracing off sent traceparent %q", tp)
		}
	}
	testenv.WaitFor(t, "the delivery log", within, func() bool {
		ds, err := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID})
		return err == nil && len(ds) == 1 && ds[0].ID == id && ds[0].State == webhooks.Delivered && ds[0].Attempts == 4
	})
}

// TestFailsForGood: a receiver that never answers 2xx gets the schedule's
// attempts, then the delivery is failed with the last status.
func TestFailsForGood(t *testing.T) {
	e := setup(t)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	recv.FailFirst(1000)
	ep := e.endpoint(1, recv.URL(), secret, webhooks.LinkCreated)
	l := e.link(1, "fail11", "https://f.example/")
	e.produce(eventRecord(t, linkevents.NewCreated(l, time.Now())))
	e.run(options{group: "g-fail", backoff: fast, private: true})
	testenv.WaitFor(t, "the delivery failed", within, func() bool {
		ds, err := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID})
		return err == nil && len(ds) == 1 && ds[0].State == webhooks.Failed
	})
	ds, _ := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID})
	if d := ds[0]; d.Attempts != 5 || d.LastStatus != http.StatusServiceUnavailable || d.LastError != "HTTP 503" {
		t.Fatalf("failed delivery: %d attempts, status %d, error %q", d.Attempts, d.LastStatus, d.LastError)
	}
}

// TestPrivateAddressRefused: without the switch, an endpoint on loopback
// is never connected to; the attempt says why.
func TestPrivateAddressRefused(t *testing.T) {
	e := setup(t)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	ep := e.endpoint(1, recv.URL(), secret, webhooks.LinkCreated)
	l := e.link(1, "priv11", "https://p.example/")
	e.produce(eventRecord(t, linkevents.NewCreated(l, time.Now())))
	e.run(options{group: "g-private", backoff: fast})
	testenv.WaitFor(t, "a refused attempt", within, func() bool {
		ds, err := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID})
		return err == nil && len(ds) == 1 && ds[0].Attempts > 0
	})
	ds, _ := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID})
	if !strings.Contains(ds[0].LastError, "127.0.0.1") || ds[0].LastStatus != 0 {
		t.Errorf("attempt error %q, status %d: want the refused address", ds[0].LastError, ds[0].LastStatus)
	}
	if n := len(recv.Messages()) + len(recv.Refused()); n != 0 {
		t.Errorf("the receiver on loopback got %d requests", n)
	}
}

// TestConsumedAgain: a second group reading the same records enqueues
// the same deliveries, which the store ignores: the receiver gets no new
// webhook-id.
func TestConsumedAgain(t *testing.T) {
	e := setup(t)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	ep := e.endpoint(1, recv.URL(), secret, webhooks.LinkCreated, webhooks.LinkUpdated)
	var recs []*kgo.Record
	for i := range 20 {
		l := e.link(1, fmt.Sprintf("again%02d", i), "https://x.example/")
		recs = append(recs, eventRecord(t, linkevents.NewCreated(l, time.Now())), eventRecord(t, linkevents.NewUpdated(l, time.Now())))
	}
	e.produce(recs...)
	stop := e.run(options{group: "g-first", private: true})
	testenv.WaitFor(t, "40 messages", within, func() bool { return len(recv.Messages()) == 40 })
	stop()
	m := deliver.NewMetrics()
	e.run(options{group: "g-second", private: true, metrics: m})
	testenv.WaitFor(t, "the second group's enqueues", within, func() bool {
		s := samples(t, m)
		return s["shortify_webhooks_deliveries_enqueued_total{event=link.created}"] == 20 &&
			s["shortify_webhooks_deliveries_enqueued_total{event=link.updated}"] == 20
	})
	ds, err := e.whs.Deliveries(t.Context(), 1, webhooks.DeliveryQuery{Endpoint: ep.ID, Limit: 100})
	if err != nil || len(ds) != 40 {
		t.Fatalf("%d deliveries in the log after consuming again (%v), want the same 40", len(ds), err)
	}
	if n := len(recv.Messages()); n != 40 {
		t.Fatalf("%d distinct messages after consuming again, want 40", n)
	}
}

// samples reads m's metrics.
func samples(t testing.TB, m *deliver.Metrics) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	defer m.Unregister(reg)
	return promtest.Samples(t, reg, "shortify_webhooks_")
}

// BenchmarkClicksThrough measures the deliverer end to end: clicks of a
// workspace with one endpoint, from Kafka to the receiver's 2xx, in
// batches of 100 (run with -benchtime 1x: b.N batches of 100 clicks).
func BenchmarkClicksThrough(b *testing.B) {
	e := setup(b)
	secret := newSecret()
	recv := webhooktest.NewReceiver(b, secret)
	e.endpoint(1, recv.URL(), secret, webhooks.LinkClicked)
	l := e.link(1, "bench1", "https://bench.example/")
	n := 100 * max(b.N, 200)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = clickRecord(b, l, i)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.broker.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	m := deliver.NewMetrics()
	e.run(options{group: "g-bench", private: true, metrics: m})
	testenv.WaitFor(b, "every click", 5*time.Minute, func() bool {
		got, _ := recv.Clicks()
		return len(got) == n
	})
	took := time.Since(start)
	b.ReportMetric(float64(n)/took.Seconds(), "clicks/s")
	b.ReportMetric(float64(len(recv.Messages()))/took.Seconds(), "deliveries/s")
	s := samples(b, m)
	b.ReportMetric(s["shortify_webhooks_attempt_duration_seconds_sum{}"]/s["shortify_webhooks_attempt_duration_seconds_count{}"]*1000, "ms/attempt")
}
