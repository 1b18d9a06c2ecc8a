package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/spantest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/tracing"
)

// TestTracingCreate drives one create through the API of a one-node
// control plane on PostgreSQL, Redis and a Kafka broker, under a request
// span as Caddy's tracing handler starts it, and checks the spans of its
// trace: the route's span, the store write (and the batched INSERT under
// it), the L2 write-through and the link event's publish span. Then one
// write that goes through Raft (an API key) shows the proposal and the
// apply in its trace.
func TestTracingCreate(t *testing.T) {
	t.Setenv(tracing.EnvSwitch, "on")
	t.Setenv("OTEL_TRACES_EXPORTER", "none") // the process's own provider exports nowhere
	k := kafkatest.StartBroker(t, 1, linkevents.DefaultTopic)
	key := newKey(t)
	a := &App{
		DataDir:       t.TempDir(),
		RaftBind:      testenv.FreeAddr(t),
		InitialAPIKey: key.Secret,
		Database:      testenv.Database(t),
		Redis:         testenv.RedisAddr(t),
		RedisPrefix:   "tracing:" + t.Name() + ":",
		KafkaBrokers:  []string{k.Addr()},
		PublicURL:     "https://sho.rt",
	}
	wantValid(t, a)
	svc := openTestService(t, a)
	t.Cleanup(func() { _ = svc.Destruct() })
	if !tracing.Exporting() {
		t.Fatal("the service holds no tracer provider with tracing on")
	}
	deps := svc.deps()
	h, err := api.New(api.Config{PublicURL: a.PublicURL}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if deps.Ready != nil {
		testenv.WaitFor(t, "the node serves writes", 30*time.Second, func() bool { return deps.Ready(t.Context()) == nil })
	}
	rec := spantest.New(t)

	do := func(name, method, path, body string) (*httptest.ResponseRecorder, string) {
		ctx, root := rec.Root(context.Background(), name)
		r := httptest.NewRequest(method, "https://sho.rt"+path, strings.NewReader(body)).WithContext(ctx)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+key.Secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		root.End()
		return w, root.SpanContext().SpanID().String()
	}
	w, rootID := do("create", "POST", "/api/v1/links", `{"url":"https://example.com/traced"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Code == "" {
		t.Fatalf("create answer %s: %v", w.Body, err)
	}
	publish := linkevents.DefaultTopic + " publish"
	testenv.WaitFor(t, "the link event's publish span", 30*time.Second, func() bool { return len(rec.Named(publish)) > 0 })
	spans := rec.Spans()

	roots := rec.Named("create")
	if len(roots) != 1 {
		t.Fatalf("%d create root spans:%s", len(roots), spantest.Dump(spans))
	}
	trace := roots[0].SpanContext.TraceID()
	routes := rec.Named("POST /api/v1/links")
	if len(routes) != 1 || routes[0].Parent.SpanID().String() != rootID || routes[0].SpanContext.TraceID() != trace {
		t.Fatalf("want one route span under the request's:%s", spantest.Dump(spans))
	}
	route := routes[0]
	child := func(name string, parent string) bool {
		for _, s := range rec.Named(name) {
			if s.Parent.SpanID().String() == parent && s.SpanContext.TraceID() == trace {
				return true
			}
		}
		return false
	}
	stores := rec.Named("linkstore.create")
	if len(stores) != 1 || stores[0].Parent.SpanID() != route.SpanContext.SpanID() ||
		spantest.Attr(stores[0], "shortify.code") != created.Code {
		t.Fatalf("want one linkstore.create span with code %s under the route's:%s", created.Code, spantest.Dump(spans))
	}
	if !child("linkstore.create_many", stores[0].SpanContext.SpanID().String()) {
		t.Errorf("no batched insert under linkstore.create:%s", spantest.Dump(spans))
	}
	var inserts int
	for _, s := range rec.Named("INSERT") {
		if s.SpanContext.TraceID() == trace {
			inserts++
		}
	}
	if inserts == 0 {
		t.Errorf("no PostgreSQL INSERT span in the create's trace:%s", spantest.Dump(spans))
	}
	if len(rec.OfScope("github.com/redis/go-redis/extra/redisotel", route.SpanContext)) == 0 {
		t.Errorf("no Redis span (the write-through) under the route's:%s", spantest.Dump(spans))
	}
	if !child(publish, route.SpanContext.SpanID().String()) {
		t.Errorf("no link-event publish span under the route's:%s", spantest.Dump(spans))
	}

	// A write through Raft: an API key.
	w, _ = do("key", "POST", "/api/v1/admin/keys", `{"role":"viewer","name":"traced"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create a key: %d %s", w.Code, w.Body)
	}
	keyTrace := rec.Named("key")[0].SpanContext.TraceID()
	var proposed, applied bool
	for _, s := range rec.Spans() {
		if s.SpanContext.TraceID() != keyTrace {
			continue
		}
		proposed = proposed || strings.HasPrefix(s.Name, "raft.propose ")
		applied = applied || s.Name == "raft.apply"
	}
	if !proposed || !applied {
		t.Errorf("raft.propose %v, raft.apply %v in the key's trace; want both:%s", proposed, applied, spantest.Dump(rec.Spans()))
	}
}
