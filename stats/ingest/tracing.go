package ingest

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/tracing"
)

// Tracing of the ingest (docs/operations.md, "Tracing"): while tracing is
// on, each consumed click has a "clicks receive" span continuing the trace
// of the redirect that produced it (kotel, from the record's headers), and
// each batch written a "stats.ingest.write" span linked to up to
// maxTraceLinks of those: a batch holds clicks of thousands of traces, so
// it belongs to none of them.

// maxTraceLinks bounds the links of a batch's span.
const maxTraceLinks = 128

// traceLinks appends the receive spans of fetched records to links, up to
// maxTraceLinks; while tracing is off it does nothing.
func traceLinks(links []trace.Link, f kgo.Fetches) []trace.Link {
	if !tracing.Exporting() || len(links) >= maxTraceLinks {
		return links
	}
	f.EachRecord(func(r *kgo.Record) {
		if len(links) >= maxTraceLinks || r.Context == nil {
			return
		}
		if sc := trace.SpanContextFromContext(r.Context); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	})
	return links
}

// startWrite starts the span of a batch's write (nil: none).
func startWrite(ctx context.Context, links []trace.Link, clicks int) (context.Context, trace.Span) {
	if !tracing.Exporting() {
		return ctx, nil
	}
	ctx, span := tracing.Start(ctx, "stats.ingest.write", trace.WithNewRoot(), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("shortify.clicks", clicks)))
	return ctx, span
}

// endWrite ends a batch's span (nil: none) with the write's outcome.
func endWrite(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
