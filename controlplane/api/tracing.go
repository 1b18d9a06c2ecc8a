package api

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/tracing"
)

// Tracing of the API (docs/operations.md, "Tracing"): under the request's
// span (Caddy's tracing handler) each routed request gets a span named by
// its route, such as "POST /api/v1/links", and a create a
// "linkstore.create" span around its insert, with the link's code. The
// Raft proposals, the store's queries, the L2 write-through and the link
// event's publish span nest under them. Nothing is started while the
// request has no recording span.

// attrCode is the short code a span is about.
const attrCode = attribute.Key("shortify.code")

// traceRoute starts the span of a routed request; the returned request
// carries it, and end ends it.
func traceRoute(r *http.Request, pattern string) (*http.Request, func()) {
	if !tracing.Recording(r.Context()) {
		return r, func() {}
	}
	ctx, span := tracing.Start(r.Context(), pattern, trace.WithAttributes(attribute.String("http.route", pattern)))
	return r.WithContext(ctx), func() { span.End() }
}

// insertTraced is insert in a "linkstore.create" span.
func (h *Handler) insertTraced(ctx context.Context, l linkstore.Link) error {
	if !tracing.Recording(ctx) {
		return h.insert(ctx, l)
	}
	ctx, span := tracing.Start(ctx, "linkstore.create",
		trace.WithAttributes(attrCode.String(l.Code), attribute.String("shortify.domain", l.Domain)))
	defer span.End()
	err := h.insert(ctx, l)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// contextPublisher is a LinkEvents that can put an event's publish span
// into a request's trace (the link-events producer).
type contextPublisher interface {
	PublishContext(ctx context.Context, e linkevents.Event)
}

// publishContext publishes e, in ctx's trace when events can be.
func publishContext(ctx context.Context, events LinkEvents, e linkevents.Event) {
	if p, ok := events.(contextPublisher); ok {
		p.PublishContext(ctx, e)
		return
	}
	events.Publish(e)
}
