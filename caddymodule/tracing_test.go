package caddymodule

import (
	"context"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/spantest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/tracing"
)

// Instrumentation scopes of the libraries whose spans the edge's load
// and click carry.
const (
	scopeRedis = "github.com/redis/go-redis/extra/redisotel"
	scopePgx   = "github.com/exaring/otelpgx"
)

// TestTracingRedirect drives one redirect of a code no cache holds (L1
// miss, Redis miss, PostgreSQL) under a request span as Caddy's tracing
// handler starts it, then the same code again (an L1 hit), and checks the
// spans: the load under the request with its code and tier, Redis and
// PostgreSQL calls under the load, and the click's Kafka publish span in
// the redirect's trace.
func TestTracingRedirect(t *testing.T) {
	t.Setenv(tracing.EnvSwitch, "on")
	t.Setenv("OTEL_TRACES_EXPORTER", "none") // the process's own provider exports nowhere
	k := kafkatest.StartBroker(t, 1, testClicksTopic, testLinksTopic)
	dsn := postgresDSN(t)
	code := newCode(t, "trace")
	create(t, seeder(t, dsn), linkstore.Link{Code: code, URL: "https://example.com/traced"})
	h := provision(t, eventsHandler(&Handler{Database: dsn, Redis: testenv.RedisAddr(t), RedisPrefix: "trace:" + code + ":"}, k))
	rec := spantest.New(t)

	get := func(name string) trace.SpanContext {
		ctx, root := rec.Root(context.Background(), name)
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/"+code, nil).WithContext(ctx)
		r.RemoteAddr = "198.51.100.7:50000"
		if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil || w.Code != 302 {
			t.Fatalf("%s: %d, %v; want 302", name, w.Code, err)
		}
		root.End()
		return root.SpanContext()
	}
	miss := get("GET miss")
	publish := testClicksTopic + " publish"
	testenv.WaitFor(t, "the click's publish span", eventWait, func() bool { return len(rec.Named(publish)) == 1 })
	hit := get("GET hit")
	testenv.WaitFor(t, "the second click's publish span", eventWait, func() bool { return len(rec.Named(publish)) == 2 })
	spans := rec.Spans()

	loads := rec.Named("shortify.edge.load")
	if len(loads) != 1 {
		t.Fatalf("%d load spans, want 1 (the miss only):%s", len(loads), spantest.Dump(spans))
	}
	load := loads[0]
	if load.Parent.SpanID() != miss.SpanID() || load.SpanContext.TraceID() != miss.TraceID() {
		t.Errorf("the load is not a child of the miss's request span:%s", spantest.Dump(spans))
	}
	if spantest.Attr(load, "shortify.code") != code || spantest.Attr(load, "shortify.cache") != "store" {
		t.Errorf("load attributes %v: want shortify.code %s, shortify.cache store", load.Attributes, code)
	}
	if n := len(rec.OfScope(scopeRedis, load.SpanContext)); n < 2 {
		t.Errorf("%d Redis spans under the load, want the L2 read and fill:%s", n, spantest.Dump(spans))
	}
	pg := rec.OfScope(scopePgx, load.SpanContext)
	var selects int
	for _, s := range pg {
		if s.Name == "SELECT" {
			selects++
		}
	}
	if selects == 0 {
		t.Errorf("no PostgreSQL SELECT span under the load:%s", spantest.Dump(spans))
	}

	for _, root := range []trace.SpanContext{miss, hit} {
		var found bool
		for _, p := range rec.Named(publish) {
			found = found || p.Parent.SpanID() == root.SpanID() && p.SpanContext.TraceID() == root.TraceID()
		}
		if !found {
			t.Errorf("no publish span in the trace of request span %s:%s", root.SpanID(), spantest.Dump(spans))
		}
	}
	for _, s := range rec.Named("GET hit") {
		if spantest.Attr(s, "shortify.cache") != "l1" || spantest.Attr(s, "shortify.code") != code {
			t.Errorf("hit's request span attributes %v: want shortify.cache l1, shortify.code %s", s.Attributes, code)
		}
	}
}

// TestTracingOff: with SHORTIFY_TRACING unset, a redirect (L1 miss,
// Redis, PostgreSQL, a click to Kafka) of a request without a span, as
// the Caddyfiles serve it, starts no span anywhere (not even on
// OpenTelemetry's global provider), and the process builds no exporter.
func TestTracingOff(t *testing.T) {
	t.Setenv(tracing.EnvSwitch, "")
	rec := spantest.New(t)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(rec.TP)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	k := kafkatest.StartBroker(t, 1, testClicksTopic, testLinksTopic)
	dsn := postgresDSN(t)
	code := newCode(t, "untraced")
	create(t, seeder(t, dsn), linkstore.Link{Code: code, URL: "https://example.com/untraced"})
	h := provision(t, eventsHandler(&Handler{Database: dsn, Redis: testenv.RedisAddr(t), RedisPrefix: "untraced:" + code + ":"}, k))
	if h.traced || tracing.Exporting() {
		t.Fatalf("traced %v, exporting %v: want neither with tracing off", h.traced, tracing.Exporting())
	}
	redirect(t, h, code, "https://example.com/untraced", nil)
	redirect(t, h, code, "https://example.com/untraced", nil)
	if got := readClicks(t, k, 2); len(got) != 2 { // the clicks went through the (unhooked) producer
		t.Fatalf("%d clicks, want 2", len(got))
	}
	if spans := rec.Spans(); len(spans) != 0 {
		t.Errorf("%d spans with tracing off:%s", len(spans), spantest.Dump(spans))
	}
	ctx := context.Background()
	if got, span := tracing.Start(ctx, "x"); got != ctx || span.IsRecording() {
		t.Errorf("tracing.Start with tracing off made a context or a recording span")
	}
	if tracing.Exporting() {
		t.Error("an exporter exists after the redirects")
	}
}
