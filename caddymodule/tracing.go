package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/tracing"
)

// Tracing of the edge (docs/operations.md, "Tracing"). With tracing on
// (SHORTIFY_TRACING, read once at Provision into h.traced), a request
// under Caddy's tracing handler gets:
//
//   - on its server span, the code and the tier that answered
//     (shortify.cache: l1, l2, store, or none for an unknown code);
//   - on an L1 miss, a "shortify.edge.load" span around the load (a
//     child of the request that started it: concurrent misses of the same
//     code wait for that one), with the Redis and PostgreSQL calls under
//     it (redisotel and otelpgx, installed on the clients);
//   - for a redirect, the click's "clicks publish" span (kotel, through
//     the emitter).
//
// With tracing off the hit path pays one test of h.traced and nothing
// else (BenchmarkServeHTTP_L1Hit).

// Attribute keys of the edge's spans.
const (
	attrCode   = attribute.Key("shortify.code")
	attrDomain = attribute.Key("shortify.domain")
	attrCache  = attribute.Key("shortify.cache")
)

// provisionTracing reads the tracing switch, once (the hit path tests a
// field, not the environment), and holds the process's own provider for
// the spans no request starts (the link events consumed).
func (h *Handler) provisionTracing(ctx context.Context) error {
	h.traced = tracing.Enabled()
	release, err := tracing.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	h.tracingRelease = release
	return nil
}

// cleanupTracing lets the process's provider go (the last holder flushes
// and stops it).
func (h *Handler) cleanupTracing() {
	if h.tracingRelease != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.tracingRelease(ctx); err != nil && h.logger != nil {
			h.logger.Warn("tracing: spans not flushed", zap.Error(err))
		}
	}
}

// traceHit marks the request's span with the code and the L1 hit.
func (h *Handler) traceHit(r *http.Request, code string) {
	if !h.traced {
		return
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(attrCode.String(code), attrCache.String("l1"))
	}
}

// startLoad starts the span of an L1 miss's load (nil: none, tracing is
// off); endLoad ends it.
func (h *Handler) startLoad(ctx context.Context, domain, code string) (context.Context, trace.Span) {
	if !h.traced {
		return ctx, nil
	}
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		parent.SetAttributes(attrCode.String(code))
	}
	ctx, span := tracing.Start(ctx, "shortify.edge.load",
		trace.WithAttributes(attrCode.String(code), attrDomain.String(domain)))
	if !span.IsRecording() {
		return ctx, nil // ctx's own span: never ours to end
	}
	return ctx, span
}

// endLoad ends a load's span (nil: none) with where the link came from
// (tier: l2, store, or none for an unknown code) or its failure.
func endLoad(span trace.Span, tier string, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attrCache.String(tier))
	}
	span.End()
}

// clickContext is the context to emit a request's click with: its own
// when tracing is on (so that the publish span joins its trace), nil
// otherwise.
func (h *Handler) clickContext(r *http.Request) context.Context {
	if !h.traced {
		return nil
	}
	return r.Context()
}
