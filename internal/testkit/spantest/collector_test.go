package spantest

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/tracing"
)

// TestCollector: a span of the process's own provider, exported by the
// OTLP/HTTP exporter that Env configures, arrives with its IDs, parent,
// attributes, links and service name.
func TestCollector(t *testing.T) {
	c := NewCollector(t)
	c.Setenv(t)
	t.Setenv("OTEL_SERVICE_NAME", "collector-test")
	release, err := tracing.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = release(t.Context()) }()
	ctx, parent := tracing.Start(t.Context(), "parent")
	_, child := tracing.Start(ctx, "child", trace.WithLinks(trace.Link{SpanContext: parent.SpanContext()}))
	child.End()
	parent.End()

	got := c.Wait(t, "child", 10*time.Second, func(s Span) bool { return s.Name == "child" })[0]
	pc := parent.SpanContext()
	if got.TraceID != pc.TraceID().String() || got.ParentID != pc.SpanID().String() || got.Service != "collector-test" {
		t.Errorf("child %+v: want trace %s, parent %s, service collector-test", got, pc.TraceID(), pc.SpanID())
	}
	if len(got.Links) != 1 || got.Links[0].SpanID != pc.SpanID().String() {
		t.Errorf("child's links %v: want one to %s", got.Links, pc.SpanID())
	}
}
