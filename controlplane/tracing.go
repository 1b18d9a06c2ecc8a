package controlplane

import (
	"context"
	"time"
)

// releaseTracing lets go of the process's tracer provider (the last
// holder flushes its spans, within a bound, and stops its exporter).
func (s *service) releaseTracing() error {
	if s.tracingRelease == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.tracingRelease(ctx)
}
