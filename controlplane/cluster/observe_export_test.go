package cluster

import "github.com/shortify/shortify/controlplane/fsm"

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
