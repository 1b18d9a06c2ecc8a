package deliver

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/webhooks"
)

// Tracing of the sender (docs/operations.md, "Tracing"): while tracing is
// on, each attempt is a "webhooks.deliver" client span of the process's
// own provider (a root: a delivery is claimed from the store long after
// the event that made it), and its request carries the span in a
// traceparent header, so that a receiver that traces continues it. With
// tracing off an attempt starts nothing and sends no traceparent.

// Attribute keys of an attempt's span. The endpoint's URL is not
// recorded (its query may hold a receiver's token); its host is.
const (
	attrDelivery = attribute.Key("shortify.webhook.delivery")
	attrEndpoint = attribute.Key("shortify.webhook.endpoint")
	attrEvent    = attribute.Key("shortify.webhook.event")
	attrAttempt  = attribute.Key("shortify.webhook.attempt")
	attrServer   = attribute.Key("server.address")
	attrStatus   = attribute.Key("http.response.status_code")
)

// startAttempt starts the span of one attempt of d to ep.
func startAttempt(ctx context.Context, ep webhooks.Endpoint, d webhooks.Delivery) (context.Context, trace.Span) {
	if !tracing.Exporting() {
		return ctx, trace.SpanFromContext(ctx)
	}
	host := ""
	if u, err := url.Parse(ep.URL); err == nil {
		host = u.Hostname()
	}
	return tracing.Start(ctx, "webhooks.deliver", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrDelivery.String(d.ID), attrEndpoint.String(d.Endpoint), attrEvent.String(string(d.Event)),
			attrAttempt.Int(d.Attempts+1), attrServer.String(host)))
}

// endAttempt ends an attempt's span with the answer's status or the
// error; a non-2xx answer is an error too.
func endAttempt(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		return
	}
	if status != 0 {
		span.SetAttributes(attrStatus.Int(status))
	}
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case status < 200 || status > 299:
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
