package controlplane

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/controlplane/api"
)

// DefaultStartWait is how long an API request that arrives while the node
// starts waits for it before the answer is 503. Caddy may open the HTTP
// port before the shortify app has started (apps start one after the
// other), and a node takes a few seconds to join Raft and lease a worker
// ID: a request in that window waits instead of failing.
const DefaultStartWait = 10 * time.Second

// startGate lets API requests wait for the app to start. It opens when
// Start has finished, well or not, or Stop has begun: then waiting is
// over, and the handler is there or will not come. The zero value is a
// closed gate.
type startGate struct {
	mu     sync.Mutex
	ch     chan struct{} // made on first use; closed when open
	isOpen bool
	// waiting counts the requests waiting at the gate.
	waiting atomic.Int64
}

// done returns a channel closed once the gate is open.
func (g *startGate) done() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
		if g.isOpen {
			close(g.ch)
		}
	}
	return g.ch
}

// open ends every wait, now and later. It may be called more than once.
func (g *startGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isOpen {
		return
	}
	g.isOpen = true
	if g.ch != nil {
		close(g.ch)
	}
}

// waitHandler returns the app's API handler, waiting up to wait for the
// app to start when it has not yet; nil when the app did not start in
// time, failed to, is stopping, or ctx ended.
func (a *App) waitHandler(ctx context.Context, wait time.Duration) *api.Handler {
	if h := a.handler(); h != nil {
		return h
	}
	a.started.waiting.Add(1)
	defer a.started.waiting.Add(-1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-a.started.done():
	case <-t.C:
	case <-ctx.Done():
	}
	return a.handler()
}
