package tracing

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
)

// LogKey is the log field that carries a trace ID in Shortify's own logs.
// (Caddy's access log names it traceID; its tracing handler adds it.)
const LogKey = "trace_id"

// ZapField is the trace_id field of ctx's trace, or a field that logs
// nothing when ctx has no trace.
func ZapField(ctx context.Context) zap.Field {
	if id := TraceID(ctx); id != "" {
		return zap.String(LogKey, id)
	}
	return zap.Skip()
}

// SlogHandler wraps h so that records logged with a context that carries
// a trace (logger.WarnContext(ctx, ...)) get a trace_id attribute.
func SlogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(traceHandler); ok {
		return h
	}
	return traceHandler{h}
}

// Logger is l with SlogHandler around its handler (nil: slog.Default()).
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	if _, ok := l.Handler().(traceHandler); ok {
		return l
	}
	return slog.New(traceHandler{l.Handler()})
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := TraceID(ctx); id != "" {
			r.AddAttrs(slog.String(LogKey, id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
