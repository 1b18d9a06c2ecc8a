package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The process's own provider: built by the first Acquire while Enabled,
// shut down (its last spans flushed, its batching goroutine stopped) by
// the last release, so that no goroutine outlives the apps that use it.
var process struct {
	mu   sync.Mutex // held while building and shutting down
	refs int
	tp   atomic.Pointer[sdktrace.TracerProvider] // read at every span start
}

func currentFallback() trace.TracerProvider {
	if tp := process.tp.Load(); tp != nil {
		return tp
	}
	return nil // not a typed nil in the interface
}

// Acquire holds the process's own provider for a component (a Caddy app's
// Start, a handler's Provision) until release is called (its Stop or
// Cleanup; more calls do nothing). While tracing is off it builds
// nothing and release does nothing. With tracing on, the first holder
// builds the provider: an OTLP exporter (or what OTEL_TRACES_EXPORTER
// names) batching spans, a resource from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES (service.name "shortify" by default), the
// sampler of OTEL_TRACES_SAMPLER; building it does not connect.
func Acquire(ctx context.Context) (release func(ctx context.Context) error, err error) {
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.tp.Load() == nil {
		tp, err := newProcessProvider(ctx)
		if err != nil {
			return nil, err
		}
		process.tp.Store(tp)
	}
	process.refs++
	var once sync.Once
	return func(ctx context.Context) error {
		var err error
		once.Do(func() { err = releaseProcess(ctx) })
		return err
	}, nil
}

func releaseProcess(ctx context.Context) error {
	process.mu.Lock()
	process.refs--
	if process.refs > 0 {
		process.mu.Unlock()
		return nil
	}
	tp := process.tp.Swap(nil)
	process.mu.Unlock()
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shut down the exporter: %w", err)
	}
	return nil
}

// DefaultServiceName is the service.name of a process that sets none.
const DefaultServiceName = "shortify"

// Exporting reports whether the process's own provider exists now.
func Exporting() bool { return process.tp.Load() != nil }

func newProcessProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter from OTEL_* settings: %w", err)
	}
	res := resource.Default() // with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	if os.Getenv("OTEL_SERVICE_NAME") == "" && !strings.Contains(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), "service.name=") {
		// A schemaless resource merges with any schema.
		if m, err := resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", DefaultServiceName))); err == nil {
			res = m
		}
	}
	// The SDK reads OTEL_TRACES_SAMPLER and OTEL_BSP_* itself.
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Hold is Acquire for an app's goroutine: the returned function releases
// (flushing within flushTimeout). Failures only cost spans, so they are
// logged on log (nil: slog.Default()), never returned.
func Hold(ctx context.Context, log *slog.Logger) (release func()) {
	if log == nil {
		log = slog.Default()
	}
	rel, err := Acquire(ctx)
	if err != nil {
		log.Warn("tracing: no exporter; spans of this component are not recorded", "err", err)
		return func() {}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := rel(ctx); err != nil {
			log.Warn("tracing: spans not flushed", "err", err)
		}
	}
}

// flushTimeout bounds the flush of the last release.
const flushTimeout = 5 * time.Second
