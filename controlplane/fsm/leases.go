package fsm

import "fmt"

// Worker-ID leases.
//
// Every ID a holder issues has a timestamp at most the lease's expiresMs (the
// holder fences itself), and every ID it issued before releasing has a
// timestamp at most the LastMs it reports. So when a worker ID changes hands
// the FSM gives the new holder a notAfterMs of:
//   - the highest timestamp ever reported, for a released lease;
//   - that or the old lease's expiry, whichever is later, for an expired
//     one, since the old holder may have issued IDs up to it without
//     reporting them.
//
// Expiry only ever moves forward, so the fence a holder has been told stays
// below what the FSM will hand out next.

func (s *state) acquireLease(c *AcquireLease) any {
	if err := checkNodeTTL(c.Node, c.TTLMs); err != nil {
		return &LeaseResult{Err: err}
	}
	best, bestStart, bestOwn := -1, int64(0), false
	for id := range s.workers {
		w := &s.workers[id]
		if w.held && c.NowMs <= w.expiresMs {
			continue // leased and not expired
		}
		start := w.highMs
		if w.held {
			start = max(start, w.expiresMs)
		}
		own := w.holder == c.Node
		// A node gets one of its own earlier worker IDs back when it can
		// (the latest one, so its IDs keep growing across restarts);
		// otherwise the ID that can start earliest, lowest ID first.
		switch {
		case best < 0,
			own && !bestOwn,
			own && bestOwn && start > bestStart,
			!own && !bestOwn && start < bestStart:
			best, bestStart, bestOwn = id, start, own
		}
	}
	if best < 0 {
		return &LeaseResult{Err: ErrNoFreeWorker}
	}
	w := &s.workers[best]
	w.holder = c.Node
	w.held = true
	w.gen++
	w.highMs = bestStart
	w.expiresMs = max(c.NowMs, bestStart) + c.TTLMs
	return &LeaseResult{Worker: uint16(best), Gen: w.gen, NotAfterMs: bestStart, ExpiresMs: w.expiresMs}
}

func (s *state) renewLease(c *RenewLease) any {
	w, err := s.heldBy(c.Node, c.Worker, c.Gen)
	if err != nil {
		return &LeaseResult{Worker: c.Worker, Gen: c.Gen, Err: err}
	}
	if err := checkNodeTTL(c.Node, c.TTLMs); err != nil {
		return &LeaseResult{Worker: c.Worker, Gen: c.Gen, Err: err}
	}
	w.highMs = max(w.highMs, c.LastMs)
	w.expiresMs = max(w.expiresMs, max(c.NowMs, c.LastMs)+c.TTLMs)
	return &LeaseResult{Worker: c.Worker, Gen: w.gen, NotAfterMs: w.highMs, ExpiresMs: w.expiresMs}
}

func (s *state) releaseLease(c *ReleaseLease) any {
	w, err := s.heldBy(c.Node, c.Worker, c.Gen)
	if err != nil {
		return &LeaseResult{Worker: c.Worker, Gen: c.Gen, Err: err}
	}
	w.highMs = max(w.highMs, c.LastMs)
	w.held = false
	w.expiresMs = 0
	return &LeaseResult{Worker: c.Worker, Gen: w.gen, NotAfterMs: w.highMs}
}

// heldBy returns the worker record if node holds lease gen of it. A lease
// that has expired but that nobody else has taken is still held: its holder
// may renew it.
func (s *state) heldBy(node string, id uint16, gen uint64) (*worker, error) {
	if id >= NumWorkers {
		return nil, fmt.Errorf("%w: worker ID %d >= %d", ErrInvalidCommand, id, NumWorkers)
	}
	w := &s.workers[id]
	if !w.held || w.holder != node || w.gen != gen {
		return nil, fmt.Errorf("%w: worker %d generation %d (node %q)", ErrNotHolder, id, gen, node)
	}
	return w, nil
}

func checkNodeTTL(node string, ttlMs int64) error {
	if node == "" {
		return fmt.Errorf("%w: empty node ID", ErrInvalidCommand)
	}
	if ttlMs <= 0 || ttlMs > MaxTTLMs {
		return fmt.Errorf("%w: lease TTL %d ms not in 1..%d", ErrInvalidCommand, ttlMs, MaxTTLMs)
	}
	return nil
}
