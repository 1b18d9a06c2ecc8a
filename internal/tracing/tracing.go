// Package tracing is the shared part of Shortify's OpenTelemetry tracing,
// which is off by default (docs/operations.md, "Tracing").
//
// Two things make a span:
//
//   - The span already in a request's context. Caddy's own tracing handler
//     (the tracing directive, gated in the Caddyfiles by SHORTIFY_TRACING)
//     starts a server span for each request with its own tracer provider;
//     every Shortify span under it (the edge's lookups, the API's routes,
//     Redis and PostgreSQL calls, the click's Kafka produce) is made by
//     that span's provider, so it lands in the same trace and the same
//     exporter.
//   - Shortify's own provider, for work that no request started: Raft
//     proposals of the background jobs, Kafka records consumed by the
//     stats ingest, the webhooks deliverer and the edges' invalidation.
//     It exists only while SHORTIFY_TRACING is on, is configured by the
//     standard OTEL_* variables (exporter, endpoint, sampler, resource)
//     through OpenTelemetry's autoexport, and is shared by every Caddy app
//     of the process that Acquires it.
//
// Provider returns a trace.TracerProvider that picks between the two at
// each span start, so the instrumentation libraries (redisotel, otelpgx,
// kotel) are configured once, at client construction, and still follow
// the request they serve. With tracing off a span start is a context
// lookup that returns the context unchanged: no allocation, no exporter.
package tracing

import (
	"context"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Name is the instrumentation scope of Shortify's own spans.
const Name = "github.com/shortify/shortify"

// EnvSwitch is the environment variable that turns tracing on ("on",
// "true" or "1"): it imports the tracing snippet of the Caddyfiles and
// lets Acquire build Shortify's own provider.
const EnvSwitch = "SHORTIFY_TRACING"

// Enabled reports whether tracing is on in this process: EnvSwitch is on
// and OTEL_SDK_DISABLED is not "true" (OpenTelemetry's own off switch).
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvSwitch))) {
	case "on", "true", "1", "yes":
		return true
	}
	return false
}

// Provider returns the tracer provider every Shortify component and
// instrumentation library uses: Follow over the process's own provider
// (see Acquire).
func Provider() trace.TracerProvider { return processFollow }

var processFollow = Follow(fallbackFunc(currentFallback))

// Start starts a span named name as a child of ctx's span (see Follow).
// When nothing would record it, it returns ctx itself and ctx's
// non-recording span, without allocating.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return processTracer.Start(ctx, name, opts...)
}

var processTracer = processFollow.Tracer(Name)

// Recording reports whether ctx's span records: callers compute costly
// attributes only then.
func Recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// Fallback is where a Follow provider starts spans that have no recording
// parent: nil when there is nowhere to record them.
type Fallback interface {
	Fallback() trace.TracerProvider
}

type fallbackFunc func() trace.TracerProvider

func (f fallbackFunc) Fallback() trace.TracerProvider { return f() }

// Static is a Fallback that is always tp (nil: none).
func Static(tp trace.TracerProvider) Fallback {
	return fallbackFunc(func() trace.TracerProvider { return tp })
}

// Follow returns a tracer provider whose tracers start each span with the
// provider of the span in the context when that span records (Caddy's
// request span, or a span of Shortify's own provider), else with
// fallback's provider (continuing a remote parent, such as a trace
// extracted from a Kafka record's headers), else not at all: the context
// comes back unchanged with its non-recording span.
func Follow(fallback Fallback) trace.TracerProvider {
	return &follower{fallback: fallback}
}

type follower struct {
	embedded.TracerProvider
	fallback Fallback
}

func (f *follower) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &followTracer{f: f, name: name, opts: opts}
}

type followTracer struct {
	embedded.Tracer
	f    *follower
	name string
	opts []trace.TracerOption
}

func (t *followTracer) Start(ctx context.Context, spanName string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if parent.IsRecording() {
		return parent.TracerProvider().Tracer(t.name, t.opts...).Start(ctx, spanName, opts...)
	}
	if tp := t.f.fallback.Fallback(); tp != nil {
		return tp.Tracer(t.name, t.opts...).Start(ctx, spanName, opts...)
	}
	return ctx, parent
}

// TraceID is the trace ID of ctx's span in hex, "" when it has none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
