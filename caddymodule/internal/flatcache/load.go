package flatcache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
)

// call is one load in flight, shared by every Load of its key.
type call[V any] struct {
	done chan struct{} // closed when v, s and err are set
	v    V
	s    string
	err  error

	waiters atomic.Int32 // callers waiting for it, for tests
}

// errLoadPanicked is what the callers waiting for a load get when the
// load panicked (the panic itself goes on in the caller that ran it).
var errLoadPanicked = errors.New("flatcache: the load panicked")

// Load returns key's value and string, from the cache or else from load,
// whose result (without an error) is then cached. Concurrent Loads of one
// key share one call of load, made by the first of them; the others wait
// for it or for their ctx, whichever ends first. load gets the first
// caller's ctx, whose cancellation it must not depend on (it serves every
// waiter): context.WithoutCancel and a timeout of its own.
//
// A Delete or Replace of a key in the same shard while load runs keeps
// its result out of the cache: it may be older than the change.
//
// Load is for misses: it takes a cache-wide lock before it looks at the
// cache, so a hot path calls Get first and Load only when Get missed.
func (c *Cache[V]) Load(ctx context.Context, key string, load func(ctx context.Context, key string) (V, string, error)) (V, string, error) {
	c.loadMu.Lock()
	if cl, ok := c.loads[key]; ok {
		cl.waiters.Add(1)
		c.loadMu.Unlock()
		select {
		case <-cl.done:
			return cl.v, cl.s, cl.err
		case <-ctx.Done():
			var zero V
			return zero, "", ctx.Err()
		}
	}
	key = strings.Clone(key) // the map outlives the caller's memory
	cl := &call[V]{done: make(chan struct{}), err: errLoadPanicked}
	c.loads[key] = cl
	c.loadMu.Unlock()
	defer func() {
		c.loadMu.Lock()
		delete(c.loads, key)
		c.loadMu.Unlock()
		close(cl.done)
	}()

	h, sh := c.shardOf(key)
	sh.mu.RLock()
	epoch := sh.epoch
	sh.mu.RUnlock()
	// The caller's Get missed, but another Load may have stored the key
	// since; once this one is registered, no other can.
	if v, s, ok := c.Get(key); ok {
		cl.v, cl.s, cl.err = v, s, nil
		return v, s, nil
	}

	v, s, err := load(ctx, key)
	cl.v, cl.s, cl.err = v, s, err
	if err == nil {
		sh.mu.Lock()
		if sh.epoch == epoch {
			c.setLocked(sh, h, key, &v, s)
		}
		sh.mu.Unlock()
	}
	return v, s, err
}
