package tracing

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator carries a trace in a Kafka record's headers (W3C
// traceparent and tracestate), the way Caddy's tracing handler reads it
// from HTTP headers.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Kafka is the tracing of one franz-go client (kotel): a produced record
// whose context carries a recording span gets a "<topic> publish" span
// under it and the trace in its headers; a consumed record, while
// tracing is on, a "<topic> receive" span continuing the trace of its
// headers. Everything else costs one context lookup a record and
// allocates nothing.
type Kafka struct {
	t *kotel.Tracer
}

// NewKafka returns the tracing of a client; group is its consumer group
// ("" for a producer).
func NewKafka(clientID, group string) *Kafka {
	opts := []kotel.TracerOpt{kotel.TracerProvider(Provider()), kotel.TracerPropagator(propagator)}
	if clientID != "" {
		opts = append(opts, kotel.ClientID(clientID))
	}
	if group != "" {
		opts = append(opts, kotel.ConsumerGroup(group))
	}
	return &Kafka{t: kotel.NewTracer(opts...)}
}

// Opt is the client option that installs k's hooks while tracing is on
// (Enabled, read when the client is built); off, it installs nothing, so
// that a client runs exactly as it would without tracing.
func (k *Kafka) Opt() kgo.Opt {
	if !Enabled() {
		return kgo.WithHooks()
	}
	return kgo.WithHooks(kafkaHooks{k})
}

// WithParent is ctx, which must outlive the record (a producer's own
// context), carrying the span of parent (a request's) when that span
// records: the context to produce a record with, so that its publish
// span joins the request's trace without the record being canceled with
// the request. Otherwise it is ctx itself, without allocating.
func WithParent(ctx, parent context.Context) context.Context {
	if span := trace.SpanFromContext(parent); span.IsRecording() {
		return trace.ContextWithSpan(ctx, span)
	}
	return ctx
}

// kafkaHooks gates kotel's hooks: kotel starts a span (or at least
// allocates its attributes) for every record, which the edge's click
// producer cannot afford on every redirect.
type kafkaHooks struct{ k *Kafka }

func (h kafkaHooks) OnProduceRecordBuffered(r *kgo.Record) {
	if r.Context != nil && trace.SpanFromContext(r.Context).IsRecording() {
		h.k.t.OnProduceRecordBuffered(r)
	}
}

func (h kafkaHooks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	// The span is the publish span that OnProduceRecordBuffered put in
	// the record's context, or no span was started: nothing to end.
	if r.Context != nil && trace.SpanFromContext(r.Context).IsRecording() {
		h.k.t.OnProduceRecordUnbuffered(r, err)
	}
}

func (h kafkaHooks) OnFetchRecordBuffered(r *kgo.Record) {
	if Exporting() {
		h.k.t.OnFetchRecordBuffered(r)
	}
}

func (h kafkaHooks) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if r.Context != nil && trace.SpanFromContext(r.Context).IsRecording() {
		h.k.t.OnFetchRecordUnbuffered(r, polled)
	}
}

var (
	_ kgo.HookProduceRecordBuffered   = kafkaHooks{}
	_ kgo.HookProduceRecordUnbuffered = kafkaHooks{}
	_ kgo.HookFetchRecordBuffered     = kafkaHooks{}
	_ kgo.HookFetchRecordUnbuffered   = kafkaHooks{}
)
