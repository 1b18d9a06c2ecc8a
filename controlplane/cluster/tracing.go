package cluster

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/tracing"
)

// Tracing of Raft (docs/operations.md, "Tracing"): a proposal is a
// "raft.propose <command>" span (under the API request that made it, or
// a root span of the process's own provider for the background jobs:
// lease renewals, sequence blocks), and the leader's apply of it, until
// the FSM answered, a "raft.apply" span under that. Nothing is started
// while tracing is off.

// startRaftSpan starts a span named name with the command's type.
func startRaftSpan(ctx context.Context, name, command string) (context.Context, trace.Span) {
	return tracing.Start(ctx, name,
		trace.WithAttributes(attribute.String("shortify.raft.command", command)))
}

// endSpan ends span with err, if any.
func endSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return // ctx's own non-recording span, or none
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// commandName is the type of an encoded command (its first byte).
func commandName(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	return fsm.CommandType(data[0]).String()
}
