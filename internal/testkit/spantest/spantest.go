// Package spantest records OpenTelemetry spans in memory for tests: a
// tracer provider whose spans a test starts as the request span Caddy's
// tracing handler would, and helpers to find the spans that Shortify's
// code started under it (internal/tracing follows that span's provider).
package spantest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Recorder is a tracer provider that keeps every ended span.
type Recorder struct {
	TP  *sdktrace.TracerProvider
	Exp *tracetest.InMemoryExporter
}

// New returns a Recorder, shut down when the test ends.
func New(tb testing.TB) *Recorder {
	tb.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &Recorder{TP: tp, Exp: exp}
}

// Root starts a server span named name, as Caddy's tracing handler does
// for a request; the caller ends it.
func (r *Recorder) Root(ctx context.Context, name string) (context.Context, trace.Span) {
	return r.TP.Tracer("spantest").Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
}

// Spans returns the spans ended so far.
func (r *Recorder) Spans() tracetest.SpanStubs { return r.Exp.GetSpans() }

// Named returns the ended spans called name.
func (r *Recorder) Named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// OfScope returns the ended spans of an instrumentation scope (a library:
// "github.com/exaring/otelpgx", ...) whose parent is parent.
func (r *Recorder) OfScope(scope string, parent trace.SpanContext) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.Spans() {
		if s.InstrumentationScope.Name == scope && s.Parent.SpanID() == parent.SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// Attr returns the value of a span's attribute key, "" when absent.
func Attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// HasAttr reports whether a span has the attribute key=value.
func HasAttr(s tracetest.SpanStub, kv attribute.KeyValue) bool {
	return Attr(s, string(kv.Key)) == kv.Value.Emit()
}

// Dump lists spans for a failure message: name, IDs and parent.
func Dump(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %-40s trace %s span %s parent %s scope %s", s.Name,
			s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.InstrumentationScope.Name)
	}
	return b.String()
}
