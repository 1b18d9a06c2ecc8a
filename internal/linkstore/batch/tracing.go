package batch

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/tracing"
)

// startFlush starts the span of one multi-row insert, "linkstore.create_many":
// a child of the first traced create in the batch (so that a lone create's
// trace shows its INSERT), linked to the other creates' spans. nil when no
// create in the batch is traced: the insert is then not traced either.
func startFlush(ctx context.Context, batch []*request) (context.Context, trace.Span) {
	var parent trace.Span
	var links []trace.Link
	for _, r := range batch {
		if !r.span.IsRecording() {
			continue
		}
		if parent == nil {
			parent = r.span
			continue
		}
		links = append(links, trace.Link{SpanContext: r.span.SpanContext()})
	}
	if parent == nil {
		return ctx, nil
	}
	ctx, span := tracing.Start(trace.ContextWithSpan(ctx, parent), "linkstore.create_many",
		trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("shortify.links", len(batch))))
	return ctx, span
}

// endFlush ends a flush's span (nil: none), marking it failed when any
// link of the batch failed.
func endFlush(span trace.Span, errs []error) {
	if span == nil {
		return
	}
	for _, err := range errs {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			break
		}
	}
	span.End()
}
