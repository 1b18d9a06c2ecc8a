package cluster

import (
	"net"

	"github.com/shortify/shortify/controlplane/fsm"
)

// What the Raft nemesis (nemesis_test.go) needs of the node's insides.

// WithObserver has observe see every command the node proposes: it is
// called before the proposal, and the function it returns after, with the
// outcome.
func WithObserver(c *Config, observe func(fsm.Command) func(resp any, err error)) {
	if c.hooks == nil {
		c.hooks = &hooks{}
	}
	c.hooks.observe = observe
}

// Listener carries the connections ln accepts through the gate, so that
// cutting it also drops the node's incoming API calls (a process's
// internal listener, outside the node).
func (g *Gate) Listener(ln net.Listener) net.Listener { return &gatedListener{Listener: ln, gate: g} }

type gatedListener struct {
	net.Listener
	gate *Gate
}

// Accept implements net.Listener: connections accepted while cut are closed.
func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc, ok := l.gate.track(c); ok {
			return gc, nil
		}
	}
}
