package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		sw, disabled string
		want         bool
	}{
		{"", "", false},
		{"off", "", false},
		{"on", "", true},
		{"ON", "", true},
		{"true", "", true},
		{"on", "true", false},
		{"nonsense", "", false},
	} {
		t.Setenv(EnvSwitch, tc.sw)
		t.Setenv("OTEL_SDK_DISABLED", tc.disabled)
		if got := Enabled(); got != tc.want {
			t.Errorf("%s=%q OTEL_SDK_DISABLED=%q: Enabled %v, want %v", EnvSwitch, tc.sw, tc.disabled, got, tc.want)
		}
	}
}

// TestFollow: a span starts with its recording parent's provider, else
// with the fallback, else not at all (the context comes back as it was).
func TestFollow(t *testing.T) {
	parentTP, parentExp := recorder(t)
	fallbackTP, fallbackExp := recorder(t)

	ctx, parent := parentTP.Tracer("t").Start(context.Background(), "parent")
	_, child := Follow(Static(fallbackTP)).Tracer("x").Start(ctx, "child")
	child.End()
	parent.End()
	if n := len(parentExp.GetSpans()); n != 2 {
		t.Errorf("%d spans on the parent's provider, want 2", n)
	}
	if got := parentExp.GetSpans()[0]; got.Name != "child" || got.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("child %+v: not under its parent", got)
	}

	// A remote parent (from a Kafka record's headers) does not record:
	// the fallback continues its trace.
	remote := trace.ContextWithRemoteSpanContext(context.Background(), parent.SpanContext())
	_, s := Follow(Static(fallbackTP)).Tracer("x").Start(remote, "continued")
	s.End()
	if got := fallbackExp.GetSpans(); len(got) != 1 || got[0].SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("fallback spans %v: want one in the remote parent's trace", got)
	}

	// No parent, no fallback: nothing.
	bg := context.Background()
	got, span := Follow(Static(nil)).Tracer("x").Start(bg, "nothing")
	if got != bg || span.IsRecording() {
		t.Error("a span started with nowhere to record it")
	}
}

// TestStartOffAllocatesNothing: with tracing off, Start under a context
// without a recording span allocates nothing.
func TestStartOffAllocatesNothing(t *testing.T) {
	t.Setenv(EnvSwitch, "")
	ctx := context.Background()
	if allocs := testing.AllocsPerRun(100, func() { Start(ctx, "nothing") }); allocs != 0 {
		t.Errorf("Start allocates %v times with tracing off", allocs)
	}
}

// TestAcquire: with tracing on the first holder builds the provider
// (exporter "none" here), the last release takes it down; with tracing
// off nothing is built.
func TestAcquire(t *testing.T) {
	t.Setenv(EnvSwitch, "")
	rel, err := Acquire(context.Background())
	if err != nil || Exporting() {
		t.Fatalf("tracing off: %v, exporting %v", err, Exporting())
	}
	_ = rel(context.Background())

	t.Setenv(EnvSwitch, "on")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	r1, err := Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(context.Background(), "root")
	if !span.IsRecording() {
		t.Error("no recording root span with the process's provider")
	}
	span.End()
	if err := r1(context.Background()); err != nil || !Exporting() {
		t.Fatalf("after one of two releases: %v, exporting %v", err, Exporting())
	}
	_ = r1(context.Background()) // a second call does nothing
	if !Exporting() {
		t.Fatal("a repeated release let the provider go")
	}
	if err := r2(context.Background()); err != nil || Exporting() {
		t.Fatalf("after the last release: %v, exporting %v", err, Exporting())
	}
}

func TestLogs(t *testing.T) {
	tp, _ := recorder(t)
	ctx, span := tp.Tracer("t").Start(context.Background(), "req")
	defer span.End()
	id := span.SpanContext().TraceID().String()

	var buf bytes.Buffer
	l := Logger(slog.New(slog.NewTextHandler(&buf, nil))).With("c", 1)
	l.WarnContext(ctx, "traced")
	l.Warn("untraced")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id="+id) || strings.Contains(lines[1], "trace_id") {
		t.Errorf("slog lines %q: want trace_id=%s on the first only", lines, id)
	}

	core, logs := observer.New(zap.InfoLevel)
	zl := zap.New(core)
	zl.Warn("traced", ZapField(ctx))
	zl.Warn("untraced", ZapField(context.Background()))
	all := logs.All()
	if all[0].ContextMap()[LogKey] != id {
		t.Errorf("zap fields %v: want %s=%s", all[0].ContextMap(), LogKey, id)
	}
	if _, ok := all[1].ContextMap()[LogKey]; ok {
		t.Errorf("zap fields %v of an untraced entry carry %s", all[1].ContextMap(), LogKey)
	}
}

// TestInjectExtract: a node-to-node call carries the caller's trace, and
// the callee continues it only while tracing is on.
func TestInjectExtract(t *testing.T) {
	tp, _ := recorder(t)
	ctx, span := tp.Tracer("t").Start(context.Background(), "propose")
	defer span.End()
	h := http.Header{}
	Inject(context.Background(), h) // no span: nothing
	if len(h) != 0 {
		t.Fatalf("injected %v without a span", h)
	}
	Inject(ctx, h)
	if h.Get("Traceparent") == "" {
		t.Fatal("no traceparent")
	}

	t.Setenv(EnvSwitch, "")
	bg := context.Background()
	if got := Extract(bg, h); got != bg {
		t.Error("extracted a trace with tracing off")
	}
	t.Setenv(EnvSwitch, "on")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	release, err := Acquire(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = release(bg) }()
	sc := trace.SpanContextFromContext(Extract(bg, h))
	if !sc.IsRemote() || sc.TraceID() != span.SpanContext().TraceID() {
		t.Errorf("extracted %v, want the caller's trace as a remote parent", sc)
	}
	_, child := Start(Extract(bg, h), "raft.apply")
	defer child.End()
	if !child.IsRecording() || child.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Error("the callee's span is not recorded in the caller's trace")
	}
}
