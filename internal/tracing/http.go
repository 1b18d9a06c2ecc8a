package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Inject writes the trace of ctx's recording span into h (traceparent),
// for a node-to-node call that Caddy's tracing handler does not see (the
// internal listener); nothing when the span does not record.
func Inject(ctx context.Context, h http.Header) {
	if trace.SpanFromContext(ctx).IsRecording() {
		propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// Extract is ctx carrying the trace that h names (traceparent) as a
// remote parent, for the spans Shortify's own provider then starts; ctx
// itself when tracing is off or h names none.
func Extract(ctx context.Context, h http.Header) context.Context {
	if !Exporting() || h.Get("Traceparent") == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}
