package tracing

import (
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// Both instruments are installed only while tracing is on (Enabled, read
// when the client is built): otelpgx still stamps and measures every
// query, and redisotel builds its attributes for every command, before
// they look at the span; with tracing off the clients run as they would
// without them. (The edge's shared rate limit runs a Redis command on
// every redirect.)

// InstrumentPool makes the PostgreSQL pool of pc trace its queries
// (otelpgx, a pgx QueryTracer) while tracing is on: a query, batch,
// prepare, connect or pool acquire becomes a span when its context's
// span records. Query parameters are never recorded (they hold target
// URLs and keys); the SQL text is.
func InstrumentPool(pc *pgxpool.Config) {
	if !Enabled() {
		return
	}
	t := otelpgx.NewTracer(
		otelpgx.WithTracerProvider(Provider()),
		// Shortify's metrics are Prometheus's; no OpenTelemetry meter.
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelpgx.WithTrimSQLInSpanName(),
	)
	pc.ConnConfig.Tracer = t
}

// InstrumentRedis makes rdb (a client, a cluster client or a ring) trace
// its commands (redisotel) while tracing is on: a command becomes a span
// under the span of its context. Commands' arguments are never recorded
// (they hold target URLs).
func InstrumentRedis(rdb redis.UniversalClient) error {
	if !Enabled() {
		return nil
	}
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(Provider()),
		redisotel.WithDBStatement(false),
		// Dials happen in the pool's own time, not a request's.
		redisotel.WithDialFilter(true),
	); err != nil {
		return fmt.Errorf("tracing: redis: %w", err)
	}
	return nil
}
