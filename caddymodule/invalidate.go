package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/exp/zapslog"

	"github.com/shortify/shortify/caddymodule/internal/flatcache"
	"github.com/shortify/shortify/caddymodule/internal/invalidation"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkevents"
)

// Invalidation (docs/architecture.md, "Link events and invalidation"):
// every edge reads the control plane's link
// events (package invalidation: no consumer group, from the newest offset)
// and applies each one, within a second, to every L1 of this process that
// handlers on the same brokers and topic use, and to their Redis L2.
//
// An event only evicts; it is never a source of truth for a target. The
// link state an event carries is informational (package linkevents): an
// edge that took it would redirect wherever anyone who can produce to the
// topic says, while the API and the database show the original. So:
//
//   - updated, disabled, deleted (and types of later versions): the code
//     leaves L1, and its L2 key is deleted (package l2cache leaves a
//     tombstone that no edge can fill over). The next request loads the
//     link from Redis or the store, through the same target check as every
//     load (cache.go). Deleting an uncached code also cancels a load in
//     flight that may have read the old state.
//   - created: a cached "unknown code" entry leaves L1, and so does the
//     result of a load in flight (L2 holds no negative entries; the
//     control plane wrote the link through).
//
// A forged event can thus cost a reload, never change an answer; deploy/
// also keeps everyone but the control plane from producing to the topic
// (Kafka ACLs, docs/security.md).
//
// Read replicas lag: every code an event changed is remembered for a
// while (recentSet, readpolicy.go), and the loader reads it from the
// primary instead of a replica.

// l2EvictTimeout bounds one Redis delete, so that a Redis outage delays
// the next events by this much at most.
const l2EvictTimeout = 500 * time.Millisecond

// invalidator is the pooled consumer of one (brokers, topic) and the
// registry of the L1 caches it applies events to.
type invalidator struct {
	consumer *invalidation.Consumer
	recent   recentSet // the codes events changed: read from the primary

	mu      sync.Mutex
	targets map[*flatcache.Cache[entry]]*targetL1
}

// targetL1 is one L1 with its L2, registered by the handlers that use it.
type targetL1 struct {
	l1      *flatcache.Cache[entry]
	l2      *l2cache.Cache // nil without Redis
	applied atomic.Pointer[counter]
	refs    int // guarded by invalidator.mu
}

// newInvalidator starts a consumer of topic on brokers.
func newInvalidator(brokers []string, topic string, sec kafkasec.Config, logger *slog.Logger) (*invalidator, error) {
	v := &invalidator{targets: make(map[*flatcache.Cache[entry]]*targetL1)}
	c, err := invalidation.New(invalidation.Config{
		Brokers:  brokers,
		Topic:    topic,
		Security: sec,
		Evict:    v.evict,
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	// The consumer's own context: Close (Destruct) ends it.
	if err := c.Start(context.Background()); err != nil {
		return nil, err
	}
	v.consumer = c
	return v, nil
}

// register adds l1 (with its L2) to the caches events apply to and
// returns its registration; applied counts the events applied to it. A
// cache registered by several handlers is registered once, counted.
func (v *invalidator) register(l1 *flatcache.Cache[entry], l2 *l2cache.Cache, applied counter) *targetL1 {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.targets[l1]
	if t == nil {
		t = &targetL1{l1: l1, l2: l2}
		v.targets[l1] = t
	}
	t.refs++
	t.applied.Store(&applied) // the newest config's metrics
	return t
}

// unregister undoes one register.
func (v *invalidator) unregister(t *targetL1) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.refs--; t.refs <= 0 {
		delete(v.targets, t.l1)
	}
}

// evict is the consumer's EvictFunc: it applies e to every registered L1
// and its L2. The L2 goes first, so that a load between the two finds the
// tombstone rather than the old value; a Redis failure is returned (and
// counted by the consumer) after the L1s are done.
func (v *invalidator) evict(ctx context.Context, code string, e linkevents.Event) error {
	key := l1Key(e.Domain, code) // the event's domain selects the key (domains.go)
	if e.Type != linkevents.Created {
		v.recent.add(key, time.Now().UnixNano())
	}
	v.mu.Lock()
	targets := make([]*targetL1, 0, len(v.targets))
	for _, t := range v.targets {
		targets = append(targets, t)
	}
	v.mu.Unlock()

	var errs []error
	for _, t := range targets {
		if t.l2 != nil && e.Type != linkevents.Created {
			dctx, cancel := context.WithTimeout(ctx, l2EvictTimeout)
			if err := t.l2.Delete(dctx, e.Domain, code); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		t.apply(key, e)
		t.applied.Load().Inc()
	}
	return errors.Join(errs...)
}

// apply evicts the L1 key (domain and code) of e from the L1. Only e's
// type is read: the link state it carries is never trusted (see above).
func (t *targetL1) apply(key string, e linkevents.Event) {
	if e.Type == linkevents.Created {
		// A cached "unknown code" goes, and so does the result of a load
		// in flight (Delete of an absent code), which may have read the
		// code before it existed; a found link is left alone.
		if old, _, ok := t.l1.Peek(key); ok && old.state != stateUnknown {
			return
		}
	}
	t.l1.Delete(key)
}

// provisionInvalidation takes the link-events consumer of the handler's
// brokers and topic from the pool (building it when absent) and registers
// the handler's L1 and L2 with it. Without kafka_brokers it does nothing.
func (h *Handler) provisionInvalidation() error {
	if len(h.KafkaBrokers) == 0 {
		return nil
	}
	// As for the click emitter, the security settings are part of the key.
	sec := h.KafkaSecurity
	logger := slog.New(zapslog.NewHandler(h.logger.Core()))
	key := "shortify/invalidation/" + hashKey(h.KafkaBrokers, h.LinkEventsTopic, sec.Key(), h.hookKey())
	v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
		return newInvalidator(h.KafkaBrokers, h.LinkEventsTopic, sec, logger)
	})
	if err != nil {
		return fmt.Errorf("invalidation: %w", err)
	}
	h.inval = v.(*invalidator)
	h.invalTarget = h.inval.register(h.l1, h.l2, counter{h.metrics.invalidations})
	return nil
}

// cleanupInvalidation undoes provisionInvalidation's registration, once;
// the pool closes the consumer when its last handler lets go. h.inval
// stays: a load in flight may still read it.
func (h *Handler) cleanupInvalidation() {
	if t := h.invalTarget; t != nil {
		h.invalTarget = nil
		h.inval.unregister(t)
	}
}

// Destruct stops the consumer.
func (v *invalidator) Destruct() error {
	v.consumer.Close()
	return nil
}

// Interface guard.
var _ caddy.Destructor = (*invalidator)(nil)
