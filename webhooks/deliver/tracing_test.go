package deliver_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/spantest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/webhooktest"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/webhooks"
)

// TestTracedAttempts: with tracing on (the process's provider exporting
// by OTLP to a loopback collector, as the webhooks app holds it), each
// attempt of a delivery is a webhooks.deliver span with the delivery,
// attempt number and answer, and its request carries that span in a
// traceparent header that the receiver sees.
func TestTracedAttempts(t *testing.T) {
	col := spantest.NewCollector(t)
	col.Setenv(t)
	release, err := tracing.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = release(t.Context()) }()

	e := setup(t)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	recv.FailFirst(1)
	e.endpoint(1, recv.URL(), secret, webhooks.LinkCreated)
	l := e.link(1, "traced1", "https://t.example/")
	e.produce(eventRecord(t, linkevents.NewCreated(l, time.Now())))
	e.run(options{group: "g-traced", backoff: fast, private: true})
	testenv.WaitFor(t, "the delivery after one failure", within, func() bool { return len(recv.Messages()) == 1 })
	id := recv.Messages()[0].ID

	spans := col.Wait(t, "of the second attempt", within, func(s spantest.Span) bool {
		return s.Name == "webhooks.deliver" && s.Attrs["shortify.webhook.delivery"] == id && s.Attrs["shortify.webhook.attempt"] == "2"
	})
	parents := recv.Traceparents(id)
	if len(parents) != 2 {
		t.Fatalf("traceparents of %s: %q; want 2 attempts", id, parents)
	}
	for i, status := range []string{"503", "204"} {
		attempt := fmt.Sprint(i + 1)
		spans = col.Find(func(s spantest.Span) bool {
			return s.Name == "webhooks.deliver" && s.Attrs["shortify.webhook.delivery"] == id && s.Attrs["shortify.webhook.attempt"] == attempt
		})
		if len(spans) != 1 {
			t.Fatalf("%d spans of attempt %s:%s", len(spans), attempt, col.Dump())
		}
		s := spans[0]
		if s.ParentID != "" || s.Attrs["http.response.status_code"] != status || s.Attrs["server.address"] != "127.0.0.1" ||
			s.Attrs["shortify.webhook.event"] != string(webhooks.LinkCreated) || s.Service != tracing.DefaultServiceName {
			t.Errorf("attempt %s's span %+v: want a root with status %s, server 127.0.0.1, event %s", attempt, s, status, webhooks.LinkCreated)
		}
		if want := "00-" + s.TraceID + "-" + s.SpanID + "-01"; parents[i] != want {
			t.Errorf("attempt %s's traceparent %q, want %q (its span)", attempt, parents[i], want)
		}
	}
}
